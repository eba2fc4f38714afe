import CJansson
import Foundation
@testable import OwdCore
import Testing

/// The backend the suite runs on: OWD_TEST_STORE, a postgresql:// URI (set by
/// tests/pg/cluster.py, `make test-swift-pg`), or unset: SQLite.
let testPostgres: String? = {
    let uri = ProcessInfo.processInfo.environment["OWD_TEST_STORE"] ?? ""
    return uri.isEmpty ? nil : uri
}()

/// A new empty store for one test: in-memory on SQLite; on PostgreSQL a new schema of the
/// test database, which the store creates (tests run in parallel and each starts empty).
func testStore() throws -> String? {
    guard let base = testPostgres else { return nil }
    let schema = "t" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    return base + (base.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(schema)"
}

/// A fixed clock tests can move.
final class TestClock: @unchecked Sendable {
    var now: Int64
    init(_ now: Int64) { self.now = now }
    func advance(_ seconds: Int64) { now += seconds }
}

/// 2013-07-25T18:57:34+00:00, the CreatedAt of AWS's example deployment.
let exampleTime: Int64 = 1_374_778_654

/// A store with a fixed clock plus helpers that speak JSON as Foundation values.
final class Fixture: @unchecked Sendable {
    let clock: TestClock
    let store: Store

    /// `path` nil: the suite's store (`testStore()`: in-memory, or PostgreSQL).
    init(path: String? = nil, time: Int64 = exampleTime, caller: String? = nil) throws {
        let clock = TestClock(time)
        self.clock = clock
        store = try Store(path: path ?? testStore(), options: StoreOptions(clock: { clock.now }), caller: caller)
    }

    init(store: Store, clock: TestClock) {
        self.store = store
        self.clock = clock
    }

    func `as`(_ caller: String?) -> Fixture { Fixture(store: store.acting(as: caller), clock: clock) }

    /// Runs an operation; the response as a dictionary.
    @discardableResult
    func call(_ op: String, _ request: [String: Any] = [:]) throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: request)
        let text = try store.call(op, json: String(decoding: data, as: UTF8.self))
        return try parseResponse(text, op)
    }

    /// The raw response text.
    func text(_ op: String, _ request: [String: Any] = [:]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: request)
        let text = try store.call(op, json: String(decoding: data, as: UTF8.self))
        _ = try parseResponse(text, op)
        return text
    }

    /// Runs an operation on request text exactly as given (members in the order written,
    /// nulls, wrong types); the response as a dictionary.
    @discardableResult
    func raw(_ op: String, _ json: String) throws -> [String: Any] {
        try parseResponse(try store.call(op, json: json), op)
    }

    /// The error a call fails with (Issue.record when it succeeds).
    func error(_ op: String, _ request: [String: Any] = [:], sourceLocation: SourceLocation = #_sourceLocation) -> OwdError? {
        do {
            try call(op, request)
            Issue.record("\(op) succeeded but should have failed", sourceLocation: sourceLocation)
            return nil
        } catch let e as OwdError {
            return e
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    func stack(_ name: String = "s", region: String = "us-east-1") throws -> String {
        try call("CreateStack", ["Name": name, "Region": region,
                                 "ServiceRoleArn": "arn:aws:iam::123456789012:role/aws-opsworks-service-role",
                                 "DefaultInstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role"])["StackId"] as! String
    }

    func layer(_ stack: String, _ name: String = "web") throws -> String {
        try call("CreateLayer", ["StackId": stack, "Type": "custom", "Name": name, "Shortname": name])["LayerId"] as! String
    }

    func app(_ stack: String, _ name: String = "app") throws -> String {
        try call("CreateApp", ["StackId": stack, "Name": name, "Type": "other"])["AppId"] as! String
    }

    func instance(_ stack: String, layers: [String], online: Bool = true, os: String? = nil) throws -> String {
        var req: [String: Any] = ["StackId": stack, "LayerIds": layers, "InstanceType": "t2.micro"]
        if let os { req["Os"] = os }
        let id = try call("CreateInstance", req)["InstanceId"] as! String
        if online { try call("StartInstance", ["InstanceId": id]) }
        return id
    }

    func deploy(_ stack: String, app: String? = nil, command: String = "deploy", args: [String: [String]]? = nil,
                extra: [String: Any] = [:]) throws -> String {
        var cmd: [String: Any] = ["Name": command]
        if let args { cmd["Args"] = args }
        var req: [String: Any] = ["StackId": stack, "Command": cmd]
        if let app { req["AppId"] = app }
        for (k, v) in extra { req[k] = v }
        return try call("CreateDeployment", req)["DeploymentId"] as! String
    }

    func deployments(_ request: [String: Any] = [:]) throws -> [[String: Any]] {
        try call("DescribeDeployments", request)["Deployments"] as! [[String: Any]]
    }

    func commands(_ request: [String: Any]) throws -> [[String: Any]] {
        try call("DescribeCommands", request)["Commands"] as! [[String: Any]]
    }

    func complete(_ commandID: String, _ status: String = "successful", exitCode: Int? = nil) throws {
        var req: [String: Any] = ["CommandId": commandID, "Status": status]
        if let exitCode { req["ExitCode"] = exitCode }
        try call("CompleteCommand", req)
    }

    /// Completes every command of a deployment.
    func finish(_ deployment: String, _ status: String = "successful") throws {
        for c in try commands(["DeploymentId": deployment]) {
            try complete(c["CommandId"] as! String, status)
        }
    }
}

/// A new store that several handles (standing for processes) open by its path: a file
/// on SQLite, a new schema of the test database on PostgreSQL.
func sharedStorePath() -> String {
    (try? testStore()) ?? temporaryPath()
}

/// A raw connection to a store's database (a file: read-only unless `writable`), for
/// tests that look at or alter rows behind the engine's back.
func storeConnection(_ path: String, writable: Bool = false) throws -> Connection {
    if Store.isPostgres(path) { return try Connection(postgres: path, settings: "SET client_min_messages = warning") }
    return try Connection(path: path, flags: writable ? 0x0000_0002 : 0x0000_0001)   // SQLITE_OPEN_READWRITE/READONLY
}

func temporaryPath(_ name: String = "store.owd") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("owd-tests-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

/// How many responses the suite has walked for null (section 1: no response ever holds null).
let responsesWalked = Counter()

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

/// Every response of the suite passes through here: parsed, and walked for null.
func parseResponse(_ text: String, _ op: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    for path in nullPaths(object, "$") {
        Issue.record("\(op) response holds null at \(path): \(text)")
    }
    responsesWalked.add()
    guard let dict = object as? [String: Any] else {
        Issue.record("\(op) response is not a JSON object: \(text)")
        return [:]
    }
    return dict
}

/// The paths of every null in a parsed JSON value.
func nullPaths(_ value: Any, _ path: String) -> [String] {
    if value is NSNull { return [path] }
    if let d = value as? [String: Any] { return d.flatMap { nullPaths($0.value, path + "." + $0.key) } }
    if let a = value as? [Any] { return a.enumerated().flatMap { nullPaths($0.element, path + "[\($0.offset)]") } }
    return []
}

extension Fixture {
    /// Expects a call to fail with `type` and, when given, exactly `message`.
    func expectError(_ op: String, _ request: [String: Any], _ type: String, _ message: String? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        guard let e = error(op, request, sourceLocation: sourceLocation) else { return }
        #expect(e.type == type, "\(e.message)", sourceLocation: sourceLocation)
        if let message { #expect(e.message == message, sourceLocation: sourceLocation) }
    }

    /// The same with request text exactly as written; returns the error for more checks.
    @discardableResult
    func expectRawError(_ op: String, _ json: String, _ type: String, _ message: String? = nil,
                        sourceLocation: SourceLocation = #_sourceLocation) -> OwdError? {
        do {
            try raw(op, json)
            Issue.record("\(op) \(json) succeeded but should have failed", sourceLocation: sourceLocation)
            return nil
        } catch let e as OwdError {
            #expect(e.type == type, "\(e.message)", sourceLocation: sourceLocation)
            if let message { #expect(e.message == message, sourceLocation: sourceLocation) }
            return e
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// Everything the store answers with no parameter: a failed call must leave it unchanged.
    func dump() throws -> String {
        try ["DescribeStacks", "DescribeLayers", "DescribeApps", "DescribeInstances", "DescribeDeployments",
             "DescribeCommands"].map { try text($0) }.joined(separator: "\n")
    }

    func commandIDs(_ deployment: String) throws -> [String] {
        try commands(["DeploymentId": deployment]).map { $0["CommandId"] as! String }
    }

    func stop(_ instance: String) throws { try call("StopInstance", ["InstanceId": instance]) }
    func start(_ instance: String) throws { try call("StartInstance", ["InstanceId": instance]) }
}

/// Lowercase random (version 4) UUIDs, as owd makes every ID.
func isLowercaseV4UUID(_ s: String) -> Bool {
    s.wholeMatch(of: try! Regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")) != nil
}

/// `YYYY-MM-DDTHH:MM:SS+00:00`.
func isTimestamp(_ s: String) -> Bool {
    s.wholeMatch(of: try! Regex(#"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00"#)) != nil
}

/// Well-formed IDs that no store holds.
func unknownID() -> String { UUID().uuidString.lowercased() }

/// A JSON value as text with sorted keys: two values are equal when their texts are.
func canonical(_ value: Any) -> String {
    let data = try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
    return String(decoding: data, as: UTF8.self)
}
