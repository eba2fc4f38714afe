import CJansson
import CSQLite

/// A handle on a store, acting as one caller. Handles made with `acting(as:)` share the
/// engine (data, connections, cache). Safe to use from many threads at once.
public final class Store {
    let engine: Engine
    /// The IAM user ARN of the caller; nil is the embedding program, which may do everything.
    public let caller: String?

    /// Opens the store at `path` (nil or ":memory:": a private in-memory store).
    public init(path: String?, options: StoreOptions = StoreOptions(), caller: String? = nil) throws {
        engine = try Engine(path: path, options: options)
        self.caller = caller
    }

    init(engine: Engine, caller: String?) {
        self.engine = engine
        self.caller = caller
    }

    /// A second handle on the same data acting as `caller`.
    public func acting(as caller: String?) -> Store {
        Store(engine: engine, caller: caller)
    }

    public var path: String? { engine.path }

    /// The operations owd answers, by AWS name.
    public static var operations: [String] { Array(handlers.keys).sorted() }

    /// Runs an operation by its AWS name. The request is borrowed; the response is a new
    /// reference. Every failure is an `OwdError`, and a failed call changes nothing.
    public func call(_ operation: String, _ request: UnsafePointer<json_t>?) throws -> UnsafeMutablePointer<json_t> {
        guard let handler = Store.handlers[operation] else {
            throw OwdError.unknownOperation("Unknown operation \(operation)")
        }
        let value = try OperationShapes.validate(operation: operation, request: request)
        return try handler(self)(value)
    }

    /// The same with JSON text in and out (tests, and callers without jansson).
    public func call(_ operation: String, json text: String) throws -> String {
        let request = try text.isEmpty ? nil : JSON.loads(text)
        defer { if let request { cjansson_decref(request) } }
        let response = try call(operation, request.map { UnsafePointer($0) })
        defer { cjansson_decref(response) }
        return try JSON.dumps(response)
    }

    static let handlers: [String: (Store) -> (Value) throws -> UnsafeMutablePointer<json_t>] = [
        "DescribeDeployments": { s in s.describeDeployments },
        "CreateDeployment": { s in s.createDeployment },
        "DescribeCommands": { s in s.describeCommands },
        "AcknowledgeCommand": { s in s.acknowledgeCommand },
        "CompleteCommand": { s in s.completeCommand },
        "CreateStack": { s in s.createStack },
        "DescribeStacks": { s in s.describeStacks },
        "CreateLayer": { s in s.createLayer },
        "DescribeLayers": { s in s.describeLayers },
        "CreateApp": { s in s.createApp },
        "DescribeApps": { s in s.describeApps },
        "UpdateApp": { s in s.updateApp },
        "CreateInstance": { s in s.createInstance },
        "StartInstance": { s in s.startInstance },
        "StopInstance": { s in s.stopInstance },
        "DescribeInstances": { s in s.describeInstances },
        "CreateUserProfile": { s in s.createUserProfile },
        "DescribeUserProfiles": { s in s.describeUserProfiles },
        "SetPermission": { s in s.setPermission },
        "DescribePermissions": { s in s.describePermissions },
    ]

    // MARK: Permissions (section 7)

    /// The account ID in the caller's ARN (arn:aws:iam::<account>:user/<name>).
    var account: String {
        guard let caller else { return "000000000000" }
        let parts = caller.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count > 4 ? String(parts[4]) : ""
    }

    func denied(_ operation: String, stackID: String, region: String) -> OwdError {
        .accessDenied("User: \(caller ?? "") is not authorized to perform: opsworks:\(operation) on resource: arn:aws:opsworks:\(region):\(account):stack/\(stackID)/")
    }

    /// Inside a write transaction: the caller's level on the stack as the store holds it now.
    func authorize(_ c: Connection, _ operation: String, stack: StackRow, need: Level) throws {
        guard let caller else { return }
        let s = try c.prepare("SELECT level FROM permissions WHERE stack_id=? AND iam_user_arn=?")
        s.bind(1, stack.id).bind(2, caller)
        defer { s.reset() }
        let level = try s.step() ? Level(name: s.string(0) ?? "") ?? .deny : .deny
        if level < need { throw denied(operation, stackID: stack.id, region: stack.region) }
    }

    /// For reads: the caller's levels by stack from the cache (nil: may see everything).
    func visibleLevels() -> [UUIDKey: Level]? {
        guard let caller else { return nil }
        return engine.cacheLock.reading { engine.cache.permissions[caller] ?? [:] }
    }

    func authorizeRead(_ operation: String, stackID: String, levels: [UUIDKey: Level]?, need: Level = .show) throws {
        guard let levels else { return }
        let key = UUIDKey(stackID)
        if let key, let l = levels[key], l >= need { return }
        let region = key.flatMap { k in engine.cacheLock.reading { engine.cache.stacks[k]?.region } } ?? ""
        throw denied(operation, stackID: stackID, region: region)
    }

    static func allowed(_ levels: [UUIDKey: Level]?, _ stackID: String, need: Level = .show) -> Bool {
        guard let levels else { return true }
        guard let k = UUIDKey(stackID), let l = levels[k] else { return false }
        return l >= need
    }

    // MARK: Shared rules

    /// "At most one parameter": every given member (an empty list counts as given).
    static func atMostOne(_ v: Value, _ names: [String], message: String) throws {
        if names.filter({ v[$0] != nil }).count > 1 { throw OwdError.validation(message) }
    }

    func now() -> Int64 { engine.clock() }

    static func newID() -> String { UUIDKey.random().string }

    static func json(_ v: Value) throws -> UnsafeMutablePointer<json_t> {
        guard let j = v.json() else { throw OwdError.outOfMemory }
        return j
    }

    /// `{"<key>": [items...]}` from jansson values (each a new reference, stolen).
    static func list(_ key: StaticString, _ items: [UnsafeMutablePointer<json_t>]) throws -> UnsafeMutablePointer<json_t> {
        guard let array = json_array(), let object = json_object() else {
            items.forEach { cjansson_decref($0) }
            throw OwdError.outOfMemory
        }
        var failed: Int32 = 0
        for item in items { failed |= json_array_append_new(array, item) }
        failed |= json_object_set_new_nocheck(object, cString(key), array)
        if failed != 0 { cjansson_decref(object); throw OwdError.outOfMemory }
        return object
    }

    static let empty: () throws -> UnsafeMutablePointer<json_t> = {
        guard let o = json_object() else { throw OwdError.outOfMemory }
        return o
    }
}

/// A stack as write rules need it.
struct StackRow {
    let id: String
    let region: String
}

extension Store {
    func stackRow(_ c: Connection, _ id: String) throws -> StackRow {
        let s = try c.prepare("SELECT region FROM stacks WHERE id=?")
        s.bind(1, id)
        defer { s.reset() }
        guard try s.step() else { throw Resource.stack.notFound(id) }
        return StackRow(id: id, region: s.string(0) ?? "")
    }

    /// The stack of a resource row (apps, layers, instances, deployments, commands), or not found.
    func stackOf(_ c: Connection, _ resource: Resource, _ id: String) throws -> String {
        let table: String
        switch resource {
        case .app: table = "apps"
        case .layer: table = "layers"
        case .instance: table = "instances"
        case .deployment: table = "deployments"
        case .command: table = "commands"
        case .stack: return try stackRow(c, id).id
        }
        let s = try c.prepare("SELECT stack_id FROM \(table) WHERE id=?")
        s.bind(1, id)
        defer { s.reset() }
        guard try s.step() else { throw resource.notFound(id) }
        return s.string(0) ?? ""
    }
}
