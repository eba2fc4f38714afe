import CJansson
import CSQLite

/// A handle on a store, acting as one caller. Handles made with `acting(as:)` share the
/// engine (data, connections, cache). Safe to use from many threads at once.
public final class Store {
    let engine: Engine
    /// The IAM user ARN of the caller; nil is the embedding program, which may do everything.
    public let caller: String?
    /// Non-nil: this handle's PollCommands answers leave secrets out (`*****FILTERED*****`)
    /// and say why in `SecretsWithheld` (this text). `owd serve` answers through such a
    /// handle a poll that came over plain HTTP from a peer that is not this machine
    /// (section 14); everything else is as on any handle.
    public let secretsWithheld: String?

    /// Opens the store at `path` (nil or ":memory:": a private in-memory store).
    public init(path: String?, options: StoreOptions = StoreOptions(), caller: String? = nil) throws {
        engine = try Engine(path: path, options: options)
        self.caller = caller
        secretsWithheld = nil
    }

    init(engine: Engine, caller: String?, secretsWithheld: String? = nil) {
        self.engine = engine
        self.caller = caller
        self.secretsWithheld = secretsWithheld
    }

    /// A second handle on the same data acting as `caller`.
    public func acting(as caller: String?) -> Store {
        Store(engine: engine, caller: caller)
    }

    /// A handle acting as this one's caller whose PollCommands answers withhold secrets,
    /// giving `reason` as the answer's `SecretsWithheld`.
    public func withholdingSecrets(_ reason: String) -> Store {
        Store(engine: engine, caller: caller, secretsWithheld: reason)
    }

    public var path: String? { engine.path }

    /// A postgresql:// or postgres:// connection URI (section 15), not a file.
    public static func isPostgres(_ path: String) -> Bool { PGSession.isURI(path) }

    /// The store's name for messages and logs: a URI without its password.
    public static func displayName(_ path: String) -> String {
        isPostgres(path) ? PGSession.redacted(path) : path
    }

    /// The operations owd answers, by AWS name.
    public static var operations: [String] { Operation.allCases.map(\.rawValue).sorted() }

    /// Throws what a call of `name` would before reading its request: UnsupportedOperation
    /// for the model's operations owd does not serve, UnknownOperation for any other name
    /// (for a front end, such as the HTTP endpoint, that refuses before reading a body).
    public static func checkOperation(_ name: String) throws { _ = try operation(name) }

    static func operation(_ name: String) throws -> Operation {
        guard let op = Operation(rawValue: name) else {
            if Operation.unsupported.contains(name) {
                throw OwdError.unsupportedOperation("\(name) is not supported: owd manages no AWS resources (EC2 instances and volumes, Elastic IPs, RDS, ECS, load balancers, auto scaling, access grants); it records stacks, layers, apps, instances and deployments")
            }
            throw OwdError.unknownOperation("Unknown operation \(name)")
        }
        return op
    }

    /// Validates a request (NULL: {}) against the operation's shape.
    func validated(_ operation: Operation, _ request: UnsafePointer<json_t>?) throws -> Value {
        let value = try OperationShapes.validate(operation: operation, request: request)
        // Reads answer from the cache: bring it up to every commit made before this call.
        if !operation.writes { try engine.sync() }
        return value
    }

    /// Runs an operation by its AWS name. The request is borrowed; the response is a new
    /// reference. Every failure is an `OwdError`, and a failed call changes nothing.
    public func call(_ operation: String, _ request: UnsafePointer<json_t>?) throws -> UnsafeMutablePointer<json_t> {
        let op = try Store.operation(operation)
        let value = try validated(op, request)
        return try dispatch(op, value, Access(operation: op, caller: caller))
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

    /// "At most one parameter": every given member (an empty list counts as given).
    static func atMostOne(_ given: [Bool], message: String) throws {
        if given.filter({ $0 }).count > 1 { throw OwdError.validation(message) }
    }

    /// The caller's levels for a read, from the cache (nil levels: may see everything).
    func grants() -> Grants {
        guard let caller else { return Grants(levels: nil, engine: engine) }
        return Grants(levels: engine.cache.reading { $0.permissions[caller] ?? [:] }, engine: engine)
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

    /// Deletes a cached record and leaves its tombstone (one write). Internal: for tests;
    /// DeleteStack, DeleteApp, ... call `Engine.remove` inside their own transaction.
    func remove(_ kind: Tombstone.Kind, id: String, iamUserArn: String? = nil) throws {
        try engine.write { c, change in try engine.remove(c, change: change, kind, id: id, iamUserArn: iamUserArn) }
    }
}
