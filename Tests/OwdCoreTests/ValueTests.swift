import Foundation
@testable import OwdCore
import Testing

/// behaviour.md sections 1 and 2: values, request shapes, rule order, errors.
@Suite("Values and errors (sections 1 and 2)")
struct ValueTests {
    @Test("IDs of stacks, layers, apps, instances, deployments and commands are lowercase random v4 UUIDs")
    func ids() throws {
        let f = try Fixture()
        let s = try f.stack()
        let l = try f.layer(s)
        let a = try f.app(s)
        let i = try f.instance(s, layers: [l])
        let d = try f.deploy(s, app: a)
        let c = try f.commandIDs(d)[0]
        let all = [s, l, a, i, d, c]
        for id in all { #expect(isLowercaseV4UUID(id), "\(id)") }
        #expect(Set(all).count == all.count)
        // Random: many stacks, no repeats.
        let many = try (0..<50).map { _ in try f.stack() }
        #expect(Set(many).count == 50)
        #expect(isLowercaseV4UUID("6ed0df4c-9ef7-4812-8dac-d54a05be1029"))
    }

    @Test("Timestamps are YYYY-MM-DDTHH:MM:SS+00:00, UTC, whole seconds, from the injected clock")
    func timestamps() throws {
        #expect(Timestamp.string(exampleTime) == "2013-07-25T18:57:34+00:00")
        #expect(Timestamp.string(0) == "1970-01-01T00:00:00+00:00")
        #expect(Timestamp.string(951_782_400) == "2000-02-29T00:00:00+00:00")
        #expect(Timestamp.string(1_709_251_199) == "2024-02-29T23:59:59+00:00")
        #expect(Timestamp.string(4_102_444_800) == "2100-01-01T00:00:00+00:00")
        let f = try Fixture(time: 1_716_681_600)   // 2024-05-26, the day AWS shut OpsWorks Stacks down
        let s = try f.stack()
        _ = try f.instance(s, layers: [try f.layer(s)])
        let d = try f.deploy(s, command: "setup")
        f.clock.advance(3_599)
        try f.finish(d)
        let got = try f.deployments()[0]
        #expect(got["CreatedAt"] as? String == "2024-05-26T00:00:00+00:00")
        #expect(got["CompletedAt"] as? String == "2024-05-26T00:59:59+00:00")
        let c = try f.commands([:])[0]
        for key in ["CreatedAt", "CompletedAt"] { #expect(isTimestamp(c[key] as! String)) }
        let stack = (try f.call("DescribeStacks")["Stacks"] as! [[String: Any]])[0]
        #expect(stack["CreatedAt"] as? String == "2024-05-26T00:00:00+00:00")
    }

    @Test("Duration is whole seconds, CompletedAt - CreatedAt, a JSON integer")
    func duration() throws {
        let f = try Fixture()
        let s = try f.stack()
        _ = try f.instance(s, layers: [try f.layer(s)])
        let d = try f.deploy(s, command: "setup")
        f.clock.advance(86_400 + 61)
        try f.finish(d)
        let text = try f.text("DescribeDeployments", ["DeploymentIds": [d]])
        #expect(text.replacingOccurrences(of: " ", with: "").contains("\"Duration\":86461"))
    }

    @Test("No response ever holds null: a full lifecycle, every operation's response walked")
    func noNull() throws {
        let start = responsesWalked.value
        let f = try Fixture()
        let s = try f.stack()
        let l = try f.layer(s)
        let a = try f.app(s)
        let i1 = try f.instance(s, layers: [l])
        _ = try f.instance(s, layers: [l], online: false)
        let running = try f.deploy(s, app: a)
        let done = try f.deploy(s, command: "execute_recipes", args: ["recipes": ["r"]],
                                extra: ["Comment": "c", "CustomJson": "{\"x\": null}"])
        for c in try f.commandIDs(done) {
            try f.call("AcknowledgeCommand", ["CommandId": c])
            try f.call("CompleteCommand", ["CommandId": c, "Status": "failed", "ExitCode": 1, "LogUrl": "u"])
        }
        // Null members in requests are absent, never echoed back.
        let viaNull = try f.raw("CreateDeployment", """
            {"StackId": "\(s)", "AppId": null, "Command": {"Name": "configure", "Args": null},
             "InstanceIds": null, "LayerIds": null, "Comment": null, "CustomJson": null}
            """)["DeploymentId"] as! String
        for op in ["DescribeStacks", "DescribeLayers", "DescribeApps", "DescribeInstances", "DescribeDeployments", "DescribeCommands"] {
            _ = try f.text(op)
        }
        _ = try f.text("DescribeDeployments", ["DeploymentIds": [running, done, viaNull]])
        _ = try f.text("DescribeDeployments", ["AppId": a])
        _ = try f.text("DescribeCommands", ["InstanceId": i1])
        _ = try f.text("DescribeInstances", ["LayerId": l])
        let d = try f.deployments(["DeploymentIds": [viaNull]])[0]
        #expect(d["AppId"] == nil && d["Comment"] == nil && d["CustomJson"] == nil)
        #expect((d["Command"] as? [String: Any])?["Args"] as? [String: [String]] == [:])
        #expect(responsesWalked.value - start >= 20)
    }

    @Test("An unknown member is a ValidationException naming it, nested ones by path")
    func unknownMember() throws {
        let f = try Fixture()
        let e = f.expectRawError("DescribeDeployments", #"{"StackID": "x"}"#, "ValidationException")
        #expect(e?.message.contains("\"StackID\"") == true, "\(e?.message ?? "")")
        let s = try f.stack()
        let n = f.expectRawError("CreateDeployment", #"{"StackId": "\#(s)", "Command": {"Name": "setup", "Argz": {}}}"#,
                                 "ValidationException")
        #expect(n?.message.contains("Command.Argz") == true, "\(n?.message ?? "")")
        // A member of another operation is unknown here.
        let o = f.expectRawError("DescribeCommands", #"{"StackId": "\#(s)"}"#, "ValidationException")
        #expect(o?.message.contains("StackId") == true)
    }

    @Test("A member of the wrong JSON type is a ValidationException naming the member, the expected type and the type given")
    func wrongType() throws {
        let f = try Fixture()
        let s = try f.stack()
        let cases: [(String, String, String, String, String)] = [
            ("DescribeDeployments", #"{"StackId": 5}"#, "StackId", "string", "integer"),
            ("DescribeDeployments", #"{"DeploymentIds": "abc"}"#, "DeploymentIds", "list", "string"),
            ("DescribeDeployments", #"{"DeploymentIds": ["a", "b", 3]}"#, "DeploymentIds[2]", "string", "integer"),
            ("DescribeDeployments", #"{"AppId": true}"#, "AppId", "string", "boolean"),
            ("DescribeDeployments", #"{"AppId": {}}"#, "AppId", "string", "object"),
            ("CreateDeployment", #"{"StackId": "\#(s)", "Command": {"Name": 7}}"#, "Command.Name", "string", "integer"),
            ("CreateDeployment", #"{"StackId": "\#(s)", "Command": "deploy"}"#, "Command", "structure", "string"),
            ("CreateDeployment", #"{"StackId": "\#(s)", "Command": {"Name": "setup", "Args": []}}"#, "Command.Args", "map", "list"),
            ("CreateDeployment", #"{"StackId": "\#(s)", "Command": {"Name": "setup", "Args": {"r": "x"}}}"#, "Command.Args.r", "list", "string"),
            ("CompleteCommand", #"{"CommandId": "c", "Status": "failed", "ExitCode": "1"}"#, "ExitCode", "integer", "string"),
            ("CompleteCommand", #"{"CommandId": "c", "Status": "failed", "ExitCode": 1.5}"#, "ExitCode", "integer", "number"),
        ]
        for (op, json, member, expected, given) in cases {
            guard let e = f.expectRawError(op, json, "ValidationException") else { continue }
            #expect(e.message.contains("parameter \(member),"), "\(json): \(e.message)")
            #expect(e.message.contains(expected), "\(json): \(e.message)")
            #expect(e.message.contains(given), "\(json): \(e.message)")
        }
    }

    @Test("A required member that is missing is a ValidationException naming it, nested ones by path")
    func missingRequired() throws {
        let f = try Fixture()
        let s = try f.stack()
        f.expectRawError("CreateDeployment", #"{"Command": {"Name": "setup"}}"#, "ValidationException",
                         "Missing required parameter in input: \"StackId\"")
        f.expectRawError("CreateDeployment", #"{"StackId": "\#(s)"}"#, "ValidationException",
                         "Missing required parameter in input: \"Command\"")
        f.expectRawError("CreateDeployment", #"{"StackId": "\#(s)", "Command": {"Args": {}}}"#, "ValidationException",
                         "Missing required parameter in input: \"Command.Name\"")
        f.expectRawError("CompleteCommand", #"{"CommandId": "x"}"#, "ValidationException",
                         "Missing required parameter in input: \"Status\"")
        f.expectRawError("AcknowledgeCommand", "{}", "ValidationException",
                         "Missing required parameter in input: \"CommandId\"")
    }

    @Test("A member whose value is null is treated as absent")
    func nullIsAbsent() throws {
        let f = try Fixture()
        let s = try f.stack()
        _ = try f.instance(s, layers: [try f.layer(s)])
        let d = try f.deploy(s, command: "setup")
        // Absent: no parameter at all, so every deployment.
        #expect((try f.raw("DescribeDeployments", #"{"StackId": null, "AppId": null, "DeploymentIds": null}"#)["Deployments"] as! [Any]).count == 1)
        // One real parameter plus nulls is not "two parameters".
        #expect((try f.raw("DescribeDeployments", #"{"StackId": "\#(s)", "AppId": null}"#)["Deployments"] as! [Any]).count == 1)
        #expect((try f.raw("DescribeCommands", #"{"DeploymentId": "\#(d)", "InstanceId": null, "CommandIds": null}"#)["Commands"] as! [Any]).count == 1)
        // A required member that is null is missing.
        f.expectRawError("CreateDeployment", #"{"StackId": null, "Command": {"Name": "setup"}}"#, "ValidationException",
                         "Missing required parameter in input: \"StackId\"")
        f.expectRawError("CreateDeployment", #"{"StackId": "\#(s)", "Command": {"Name": null}}"#, "ValidationException",
                         "Missing required parameter in input: \"Command.Name\"")
        // A null entry of a list is not a string.
        let e = f.expectRawError("DescribeDeployments", #"{"DeploymentIds": ["\#(d)", null]}"#, "ValidationException")
        #expect(e?.message.contains("DeploymentIds[1]") == true)
    }

    @Test("A request that is not a JSON object is a ValidationException")
    func notAnObject() throws {
        let f = try Fixture()
        for text in ["[]", "\"x\"", "1"] {
            f.expectRawError("DescribeDeployments", text, "ValidationException")
        }
    }

    @Test("Rule order: the request's shape comes before the at-most-one rule")
    func shapeBeforeAtMostOne() throws {
        let f = try Fixture()
        let s = try f.stack()
        let e = f.expectRawError("DescribeDeployments", #"{"StackId": "\#(s)", "AppId": 5}"#, "ValidationException")
        #expect(e?.message.contains("AppId") == true && e?.message != DescribeDeploymentsTests.atMostOne)
        let u = f.expectRawError("DescribeCommands", #"{"DeploymentId": "a", "InstanceId": "b", "Bogus": 1}"#, "ValidationException")
        #expect(u?.message.contains("Bogus") == true)
        let l = f.expectRawError("DescribeInstances", #"{"StackId": "a", "LayerId": "b", "InstanceIds": [1]}"#, "ValidationException")
        #expect(l?.message.contains("InstanceIds[0]") == true)
    }

    @Test("Rule order: the at-most-one rule comes before unknown IDs, in every Describe call")
    func atMostOneBeforeUnknown() throws {
        let f = try Fixture()
        let x = unknownID(), y = unknownID()
        f.expectError("DescribeDeployments", ["StackId": x, "DeploymentIds": [y]], "ValidationException", DescribeDeploymentsTests.atMostOne)
        f.expectError("DescribeCommands", ["InstanceId": x, "CommandIds": [y]], "ValidationException", CommandTests.atMostOne)
        f.expectError("DescribeLayers", ["StackId": x, "LayerIds": [y]], "ValidationException", ResourceTests.layersMessage)
        f.expectError("DescribeApps", ["StackId": x, "AppIds": [y]], "ValidationException", ResourceTests.appsMessage)
        f.expectError("DescribeInstances", ["LayerId": x, "InstanceIds": [y]], "ValidationException", ResourceTests.instancesMessage)
    }

    @Test("Errors: not-found messages are spelled exactly as the contract spells them")
    func notFoundMessages() throws {
        let f = try Fixture()
        let x = unknownID()
        f.expectError("DescribeStacks", ["StackIds": [x]], "ResourceNotFoundException", "Unable to find stack with ID \(x)")
        f.expectError("DescribeApps", ["AppIds": [x]], "ResourceNotFoundException", "Unable to find app with ID \(x)")
        f.expectError("DescribeLayers", ["LayerIds": [x]], "ResourceNotFoundException", "Unable to find layer with ID \(x)")
        f.expectError("DescribeInstances", ["InstanceIds": [x]], "ResourceNotFoundException", "Unable to find instance with ID \(x)")
        f.expectError("DescribeDeployments", ["DeploymentIds": [x]], "ResourceNotFoundException", "Unable to find deployment with ID \(x)")
        f.expectError("DescribeCommands", ["CommandIds": [x]], "ResourceNotFoundException", "Unable to find command with ID \(x)")
        let arn = "arn:aws:iam::123456789012:user/nobody"
        f.expectError("DescribeUserProfiles", ["IamUserArns": [arn]], "ResourceNotFoundException", "Unable to find user with ARN \(arn)")
    }

    @Test("Errors: every failure has an AWS code and a non-empty message")
    func errorsHaveMessages() throws {
        let f = try Fixture()
        let s = try f.stack()
        let failures: [(String, [String: Any])] = [
            ("DescribeDeployments", ["StackId": s, "AppId": s]),
            ("CreateDeployment", ["StackId": s, "Command": ["Name": "deploy"]]),
            ("CreateDeployment", ["StackId": s, "Command": ["Name": "configure"]]),
            ("CreateDeployment", ["StackId": s, "Command": ["Name": "execute_recipes"]]),
            ("DescribeCommands", ["CommandIds": ["x"]]),
            ("CompleteCommand", ["CommandId": "x", "Status": "done"]),
        ]
        for (op, req) in failures {
            guard let e = f.error(op, req) else { continue }
            #expect(["ValidationException", "ResourceNotFoundException", "AccessDeniedException"].contains(e.type))
            #expect(!e.message.isEmpty, "\(op) \(req)")
        }
    }

    /// Builds a store with something of everything, some of it finished.
    static func populated(_ f: Fixture) throws -> (stack: String, app: String, instance: String, command: String, done: String) {
        let s = try f.stack()
        let l = try f.layer(s)
        let a = try f.app(s)
        let i = try f.instance(s, layers: [l])
        _ = try f.instance(s, layers: [l], online: false)
        let d = try f.deploy(s, app: a, extra: ["Comment": "first"])
        f.clock.advance(2)
        let done = try f.deploy(s, command: "setup")
        try f.finish(done)
        return (s, a, i, try f.commandIDs(d)[0], try f.commandIDs(done)[0])
    }

    static func failingCalls(_ p: (stack: String, app: String, instance: String, command: String, done: String))
        -> [(String, [String: Any])] {
        let x = unknownID()
        return [
            ("CreateDeployment", ["StackId": p.stack, "Command": ["Name": "deploy"]]),
            ("CreateDeployment", ["StackId": p.stack, "AppId": p.app, "Command": ["Name": "deploy"], "InstanceIds": [p.instance, x]]),
            ("CreateDeployment", ["StackId": p.stack, "AppId": p.app, "Command": ["Name": "deploy"], "CustomJson": "[1]"]),
            ("CreateDeployment", ["StackId": x, "Command": ["Name": "setup"]]),
            ("CreateDeployment", ["StackId": p.stack, "Command": ["Name": "setup"], "Extra": 1]),
            ("CompleteCommand", ["CommandId": p.done, "Status": "failed"]),
            ("CompleteCommand", ["CommandId": x, "Status": "failed"]),
            ("CompleteCommand", ["CommandId": p.command, "Status": "pending"]),
            ("AcknowledgeCommand", ["CommandId": x]),
            ("CreateLayer", ["StackId": x, "Type": "custom", "Name": "n", "Shortname": "n"]),
            ("CreateApp", ["StackId": p.stack, "Name": "n", "Type": "nope"]),
            ("CreateInstance", ["StackId": p.stack, "LayerIds": [x], "InstanceType": "t"]),
            ("CreateStack", ["Name": "n"]),
            ("StartInstance", ["InstanceId": x]),
            ("StopInstance", ["InstanceId": x]),
            ("DescribeDeployments", ["StackId": p.stack, "AppId": p.app]),
        ]
    }

    @Test("A failed call changes nothing: the full describe dump is the same before and after", arguments: [false, true])
    func failedCallChangesNothing(_ file: Bool) throws {
        let path = file ? sharedStorePath() : nil
        let f = try Fixture(path: path)
        let p = try Self.populated(f)
        let before = try f.dump()
        for (op, req) in Self.failingCalls(p) {
            f.clock.advance(1)
            _ = f.error(op, req)
            #expect(try f.dump() == before, "\(op) \(req) changed the store")
        }
        if let path {
            // And nothing reached the file.
            #expect(try Fixture(path: path).dump() == before)
        }
    }
}
