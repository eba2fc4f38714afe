import Foundation
@testable import OwdCore
import Testing

/// behaviour.md section 5: commands and how a deployment finishes.
@Suite("Commands (section 5)")
struct CommandTests {
    static let atMostOne = "Please provide either one or more command IDs or one deployment ID or one instance ID"

    /// One stack, instances a and b online; d1 targets both, d2 (a second later) only a,
    /// d3 (in another stack) its own instance.
    struct World {
        let f: Fixture
        let stack: String, a: String, b: String, other: String
        let d1: String, d2: String, d3: String
        let d1a: String, d1b: String, d2a: String, d3c: String
    }

    static func world(path: String? = nil) throws -> World {
        let f = try Fixture(path: path)
        let s = try f.stack()
        let layer = try f.layer(s)
        let a = try f.instance(s, layers: [layer]), b = try f.instance(s, layers: [layer])
        let o = try f.stack("other")
        let c = try f.instance(o, layers: [try f.layer(o)])
        let d1 = try f.deploy(s, command: "configure")
        f.clock.advance(1)
        let d2 = try f.deploy(s, command: "setup", extra: ["InstanceIds": [a]])
        f.clock.advance(1)
        let d3 = try f.deploy(o, command: "setup")
        let c1 = try f.commandIDs(d1)
        return World(f: f, stack: s, a: a, b: b, other: o, d1: d1, d2: d2, d3: d3,
                     d1a: c1[0], d1b: c1[1], d2a: try f.commandIDs(d2)[0], d3c: try f.commandIDs(d3)[0])
    }

    static func ids(_ cs: [[String: Any]]) -> [String] { cs.map { $0["CommandId"] as! String } }

    func command(_ f: Fixture, _ id: String) throws -> [String: Any] {
        try f.commands(["CommandIds": [id]])[0]
    }

    func deployment(_ f: Fixture, _ id: String) throws -> [String: Any] {
        try f.deployments(["DeploymentIds": [id]])[0]
    }

    @Test("DescribeCommands: no parameter describes every command, newest first, a deployment's in target order")
    func noParameter() throws {
        let w = try Self.world()
        #expect(Self.ids(try w.f.commands([:])) == [w.d3c, w.d2a, w.d1a, w.d1b])
    }

    @Test("DescribeCommands: DeploymentId alone describes that deployment's commands in target order")
    func deploymentAlone() throws {
        let w = try Self.world()
        let cs = try w.f.commands(["DeploymentId": w.d1])
        #expect(Self.ids(cs) == [w.d1a, w.d1b])
        #expect(cs.map { $0["InstanceId"] as! String } == [w.a, w.b])
    }

    @Test("DescribeCommands: InstanceId alone describes that instance's commands, newest first")
    func instanceAlone() throws {
        let w = try Self.world()
        #expect(Self.ids(try w.f.commands(["InstanceId": w.a])) == [w.d2a, w.d1a])
        #expect(Self.ids(try w.f.commands(["InstanceId": w.b])) == [w.d1b])
    }

    @Test("DescribeCommands: CommandIds alone describes those commands, newest first whatever the request order")
    func idsAlone() throws {
        let w = try Self.world()
        #expect(Self.ids(try w.f.commands(["CommandIds": [w.d1b, w.d3c, w.d1a, w.d2a]])) == [w.d3c, w.d2a, w.d1a, w.d1b])
    }

    static let pairs: [[String]] = [["DeploymentId", "InstanceId"], ["DeploymentId", "CommandIds"],
                                    ["InstanceId", "CommandIds"], ["DeploymentId", "InstanceId", "CommandIds"]]

    @Test("DescribeCommands: two or three parameters is a ValidationException with the contract's message",
          arguments: pairs, [false, true])
    func twoOrThree(_ names: [String], emptyList: Bool) throws {
        let w = try Self.world()
        var req: [String: Any] = [:]
        for n in names {
            switch n {
            case "DeploymentId": req[n] = w.d1
            case "InstanceId": req[n] = w.a
            default: req[n] = emptyList ? [] : [w.d1a]
            }
        }
        w.f.expectError("DescribeCommands", req, "ValidationException", Self.atMostOne)
        // Before unknown IDs too.
        w.f.expectError("DescribeCommands", ["DeploymentId": unknownID(), "InstanceId": unknownID()],
                        "ValidationException", Self.atMostOne)
    }

    @Test("DescribeCommands: an empty CommandIds list returns {\"Commands\": []}")
    func emptyList() throws {
        let w = try Self.world()
        let r = try w.f.call("DescribeCommands", ["CommandIds": []])
        #expect(r.count == 1 && (r["Commands"] as? [Any])?.isEmpty == true)
        let fresh = try Fixture()
        #expect(try fresh.commands([:]).isEmpty)
    }

    @Test("DescribeCommands: unknown DeploymentId, InstanceId or CommandId is ResourceNotFoundException with the contract's message")
    func notFound() throws {
        let w = try Self.world()
        let x = unknownID(), y = unknownID()
        w.f.expectError("DescribeCommands", ["DeploymentId": x], "ResourceNotFoundException", "Unable to find deployment with ID \(x)")
        w.f.expectError("DescribeCommands", ["InstanceId": x], "ResourceNotFoundException", "Unable to find instance with ID \(x)")
        w.f.expectError("DescribeCommands", ["CommandIds": [w.d1a, x, y]], "ResourceNotFoundException", "Unable to find command with ID \(x)")
        w.f.expectError("DescribeCommands", ["CommandIds": [w.d1]], "ResourceNotFoundException", "Unable to find command with ID \(w.d1)")
    }

    @Test("DescribeCommands: a command ID listed twice is described once")
    func duplicates() throws {
        let w = try Self.world()
        #expect(Self.ids(try w.f.commands(["CommandIds": [w.d1a, w.d2a, w.d1a, w.d2a]])) == [w.d2a, w.d1a])
    }

    @Test("DescribeCommands: commands of deployments created in the same second are newest deployment first, each in target order")
    func sameSecond() throws {
        let f = try Fixture()
        let s = try f.stack()
        let layer = try f.layer(s)
        let a = try f.instance(s, layers: [layer]), b = try f.instance(s, layers: [layer])
        _ = (a, b)
        let d1 = try f.deploy(s, command: "configure")
        let d2 = try f.deploy(s, command: "configure", extra: ["InstanceIds": [b, a]])
        let c1 = try f.commandIDs(d1), c2 = try f.commandIDs(d2)
        let expected = c2 + c1
        #expect(Self.ids(try f.commands([:])) == expected)
        #expect(Self.ids(try f.commands(["CommandIds": c1 + c2])) == expected)
        #expect(Self.ids(try f.commands(["InstanceId": a])) == [c2[1], c1[0]])
        #expect(try f.commands(["DeploymentId": d2]).map { $0["InstanceId"] as! String } == [b, a])
    }

    @Test("DescribeCommands: a pending command has only CommandId, InstanceId, DeploymentId, CreatedAt, Status and Type")
    func pendingMembers() throws {
        let w = try Self.world()
        let c = try command(w.f, w.d1a)
        #expect(Set(c.keys) == ["CommandId", "InstanceId", "DeploymentId", "CreatedAt", "Status", "Type"])
        #expect(c["Status"] as? String == "pending")
        #expect(c["Type"] as? String == "configure")
    }

    @Test("AcknowledgeCommand: sets AcknowledgedAt once; later calls change nothing and are not errors")
    func acknowledgeIdempotent() throws {
        let w = try Self.world()
        w.f.clock.advance(5)
        let r = try w.f.call("AcknowledgeCommand", ["CommandId": w.d1a])
        #expect(r.isEmpty)
        let first = try command(w.f, w.d1a)
        #expect(first["AcknowledgedAt"] as? String == Timestamp.string(exampleTime + 7))
        #expect(first["Status"] as? String == "pending")
        let before = try w.f.dump()
        w.f.clock.advance(5)
        try w.f.call("AcknowledgeCommand", ["CommandId": w.d1a])
        try w.f.call("AcknowledgeCommand", ["CommandId": w.d1a])
        #expect(try w.f.dump() == before)
    }

    @Test("AcknowledgeCommand: whatever the command's status, it sets AcknowledgedAt when not set yet, and keeps the result")
    func acknowledgeCompleted() throws {
        let w = try Self.world()
        w.f.clock.advance(3)
        try w.f.complete(w.d1a, "failed", exitCode: 2)
        w.f.clock.advance(4)
        try w.f.call("AcknowledgeCommand", ["CommandId": w.d1a])
        let c = try command(w.f, w.d1a)
        #expect(c["AcknowledgedAt"] as? String == Timestamp.string(exampleTime + 9))
        #expect(c["Status"] as? String == "failed")
        #expect(c["ExitCode"] as? Int == 2)
    }

    @Test("AcknowledgeCommand and CompleteCommand: an unknown CommandId is ResourceNotFoundException 'Unable to find command with ID <id>'")
    func unknownCommand() throws {
        let w = try Self.world()
        let x = unknownID()
        let before = try w.f.dump()
        w.f.expectError("AcknowledgeCommand", ["CommandId": x], "ResourceNotFoundException", "Unable to find command with ID \(x)")
        w.f.expectError("CompleteCommand", ["CommandId": x, "Status": "successful"], "ResourceNotFoundException",
                        "Unable to find command with ID \(x)")
        #expect(try w.f.dump() == before)
    }

    @Test("CompleteCommand: sets Status, CompletedAt, ExitCode and LogUrl as given")
    func completeSetsMembers() throws {
        let w = try Self.world()
        w.f.clock.advance(10)
        let r = try w.f.call("CompleteCommand", ["CommandId": w.d1a, "Status": "successful", "ExitCode": 0,
                                                  "LogUrl": "https://example.com/log?id=1"])
        #expect(r.isEmpty)
        let c = try command(w.f, w.d1a)
        #expect(c["Status"] as? String == "successful")
        #expect(c["CompletedAt"] as? String == Timestamp.string(exampleTime + 12))
        #expect(c["ExitCode"] as? Int == 0)
        #expect(c["LogUrl"] as? String == "https://example.com/log?id=1")
        // Without ExitCode and LogUrl they stay absent.
        try w.f.complete(w.d1b, "skipped")
        let s = try command(w.f, w.d1b)
        #expect(s["Status"] as? String == "skipped" && s["ExitCode"] == nil && s["LogUrl"] == nil)
    }

    @Test("CompleteCommand: Status other than successful, failed or skipped is a ValidationException",
          arguments: ["pending", "running", "Successful", ""])
    func completeBadStatus(_ status: String) throws {
        let w = try Self.world()
        let before = try w.f.dump()
        w.f.expectError("CompleteCommand", ["CommandId": w.d1a, "Status": status], "ValidationException")
        #expect(try w.f.dump() == before)
    }

    @Test("CompleteCommand: a command that is not pending cannot be completed again; its result is never overwritten",
          arguments: ["successful", "failed", "skipped"])
    func completeTwice(_ first: String) throws {
        let w = try Self.world()
        try w.f.complete(w.d1a, first, exitCode: 3)
        try w.f.complete(w.d1b, "successful")
        let before = try w.f.dump()
        w.f.clock.advance(60)
        for again in ["successful", "failed", "skipped"] {
            w.f.expectError("CompleteCommand", ["CommandId": w.d1a, "Status": again, "ExitCode": 9], "ValidationException")
            w.f.expectError("CompleteCommand", ["CommandId": w.d1b, "Status": again], "ValidationException")
        }
        #expect(try w.f.dump() == before)
    }

    @Test("Roll-up: a deployment stays running, without CompletedAt or Duration, until its last pending command completes")
    func runningUntilLast() throws {
        let w = try Self.world()
        w.f.clock.advance(5)
        try w.f.complete(w.d1a, "failed")
        let d = try deployment(w.f, w.d1)
        #expect(d["Status"] as? String == "running")
        #expect(d["CompletedAt"] == nil && d["Duration"] == nil)
        try w.f.call("AcknowledgeCommand", ["CommandId": w.d1b])
        #expect(try deployment(w.f, w.d1)["Status"] as? String == "running")
    }

    static let rollUps: [([String], String)] = [
        (["successful", "successful"], "successful"),
        (["successful", "failed"], "failed"),
        (["failed", "successful"], "failed"),
        (["failed", "failed"], "failed"),
        (["skipped", "skipped"], "successful"),
        (["skipped", "successful"], "successful"),
        (["successful", "skipped"], "successful"),
        (["skipped", "failed"], "failed"),
    ]

    @Test("Roll-up: the deployment is failed if any command failed, else successful (skipped is not failed)", arguments: rollUps)
    func rollUpStatus(_ results: [String], _ expected: String) throws {
        let w = try Self.world()
        w.f.clock.advance(4)
        try w.f.complete(w.d1a, results[0])
        w.f.clock.advance(3)
        try w.f.complete(w.d1b, results[1])
        let d = try deployment(w.f, w.d1)
        #expect(d["Status"] as? String == expected)
        #expect(d["CompletedAt"] as? String == Timestamp.string(exampleTime + 9))
        #expect(d["Duration"] as? Int == 9)
    }

    @Test("Roll-up: CompletedAt is the latest command CompletedAt (not the last one completed) and Duration = CompletedAt - CreatedAt")
    func rollUpLatest() throws {
        let w = try Self.world()
        w.f.clock.advance(30)
        try w.f.complete(w.d1b)      // at +32
        w.f.clock.advance(-20)
        try w.f.complete(w.d1a)      // at +12, last to complete
        let d = try deployment(w.f, w.d1)
        #expect(d["CompletedAt"] as? String == Timestamp.string(exampleTime + 32))
        #expect(d["Duration"] as? Int == 32)
        #expect(d["Status"] as? String == "successful")
    }

    @Test("Roll-up: a deployment whose command completes in the second it was created has Duration 0")
    func rollUpZero() throws {
        let w = try Self.world()
        try w.f.complete(w.d3c)
        let d = try deployment(w.f, w.d3)
        #expect(d["Duration"] as? Int == 0)
        #expect(d["CompletedAt"] as? String == d["CreatedAt"] as? String)
    }

    @Test("Roll-up: finishing one deployment leaves the others running")
    func rollUpIsolated() throws {
        let w = try Self.world()
        try w.f.finish(w.d1)
        #expect(try deployment(w.f, w.d1)["Status"] as? String == "successful")
        #expect(try deployment(w.f, w.d2)["Status"] as? String == "running")
        #expect(try deployment(w.f, w.d3)["Status"] as? String == "running")
    }

    @Test("Roll-up: the finished deployment is seen by another handle on the store file")
    func rollUpInFile() throws {
        let path = sharedStorePath()
        let w = try Self.world(path: path)
        let other = try Fixture(path: path)
        w.f.clock.advance(15)
        try w.f.complete(w.d1a, "skipped")
        #expect(try other.deployments(["DeploymentIds": [w.d1]])[0]["Status"] as? String == "running")
        try w.f.complete(w.d1b, "failed", exitCode: 1)
        let d = try other.deployments(["DeploymentIds": [w.d1]])[0]
        #expect(d["Status"] as? String == "failed")
        #expect(d["Duration"] as? Int == 17)
        #expect(try other.commands(["CommandIds": [w.d1b]])[0]["ExitCode"] as? Int == 1)
        // And CompleteCommand through the other handle refuses the finished command.
        other.expectError("CompleteCommand", ["CommandId": w.d1b, "Status": "successful"], "ValidationException")
    }
}
