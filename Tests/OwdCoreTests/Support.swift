import CJansson
import Foundation
@testable import OwdCore
import Testing

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

    init(path: String? = nil, time: Int64 = exampleTime, caller: String? = nil) throws {
        let clock = TestClock(time)
        self.clock = clock
        store = try Store(path: path, options: StoreOptions(clock: { clock.now }), caller: caller)
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
        return try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    /// The raw response text.
    func text(_ op: String, _ request: [String: Any] = [:]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: request)
        return try store.call(op, json: String(decoding: data, as: UTF8.self))
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

func temporaryPath(_ name: String = "store.owd") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("owd-tests-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}
