/// The permission levels of section 7, weakest first.
enum Level: Int, Comparable {
    case deny = 0, iamOnly, show, deploy, manage

    init?(name: String) {
        switch name {
        case "deny": self = .deny
        case "iam_only": self = .iamOnly
        case "show": self = .show
        case "deploy": self = .deploy
        case "manage": self = .manage
        default: return nil
        }
    }

    var name: String {
        switch self {
        case .deny: return "deny"
        case .iamOnly: return "iam_only"
        case .show: return "show"
        case .deploy: return "deploy"
        case .manage: return "manage"
        }
    }

    static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
}

/// What an operation needs of its caller (the operation table's permission column).
enum Permission: Equatable {
    /// This level on the stack the request concerns. Calls that name no stack list only
    /// what the caller may see at this level.
    case stack(Level)
    /// Any caller (CreateStack).
    case anyone
    /// The embedding program only (no identity).
    case embedder
    /// The caller's own user profile, which must allow self-management (AWS's My*
    /// operations); the handler checks the profile.
    case selfManaged
}

/// The one authorizer: made by the dispatch for every call from the operation table's
/// permission level and the caller. Handlers ask it at the point the contract's rule order
/// puts permissions (after the request's shape and unknown IDs, section 1); they never
/// choose the level themselves.
struct Access {
    let operation: Operation
    /// nil: the embedding program, which may do everything.
    let caller: String?

    var permission: Permission { operation.permission }

    /// The level the operation needs on a stack (`.deny` for anyone's operations).
    var need: Level {
        if case .stack(let l) = permission { return l }
        return .deny
    }

    /// The account ID in the caller's ARN (arn:aws:iam::<account>:user/<name>).
    var account: String {
        guard let caller else { return "000000000000" }
        let parts = caller.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count > 4 ? String(parts[4]) : ""
    }

    /// Whether a caller holding `level` on a stack may run the operation on it.
    @inline(__always)
    func allows(_ level: Level?) -> Bool {
        guard caller != nil else { return true }
        switch permission {
        case .anyone, .selfManaged: return true
        case .embedder: return false
        case .stack(let need): return (level ?? .deny) >= need
        }
    }

    func denied(stackID: String, region: String) -> OwdError {
        .accessDenied("User: \(caller ?? "") is not authorized to perform: opsworks:\(operation.rawValue) on resource: arn:aws:opsworks:\(region):\(account):stack/\(stackID)/")
    }

    /// Operations that concern no stack: only the embedding program may run them. AWS IAM
    /// names such an action's resource `*`.
    func checkEmbedder() throws {
        if permission == .embedder, let caller {
            throw OwdError.accessDenied("User: \(caller) is not authorized to perform: opsworks:\(operation.rawValue) on resource: *")
        }
    }

    /// Inside a write transaction: the caller's level on the stack as the store holds it now.
    func check(_ c: Connection, _ stack: StackRow) throws {
        guard let caller else { return }
        let s = try c.prepare("SELECT level FROM permissions WHERE stack_id=? AND iam_user_arn=?")
        s.bind(1, stack.id).bind(2, caller)
        defer { s.reset() }
        let level = try s.step() ? Level(name: s.string(0) ?? "") ?? .deny : .deny
        if !allows(level) { throw denied(stackID: stack.id, region: stack.region) }
    }

    /// For reads: the caller's levels (a snapshot of the cache's).
    func check(_ grants: Grants, stackID: String) throws {
        guard let levels = grants.levels else { return }
        let key = UUIDKey(stackID)
        if allows(key.flatMap { levels[$0] }) { return }
        throw denied(stackID: stackID, region: grants.region(key))
    }

    /// Whether a read may show an item of `stackID` (describe calls without a stack).
    func allows(_ grants: Grants, stackID: String) -> Bool {
        guard let levels = grants.levels else { return true }
        return allows(UUIDKey(stackID).flatMap { levels[$0] })
    }
}

/// A read's view of the caller's levels, from the cache.
struct Grants {
    /// nil: the embedding program.
    let levels: [UUIDKey: Level]?
    let engine: Engine

    func region(_ key: UUIDKey?) -> String {
        key.flatMap { k in engine.cache.reading { $0.stacks[k]?.region } } ?? ""
    }
}
