import Foundation
@testable import OwdCore
import Testing

/// behaviour.md section 14: the agent protocol (PollCommands, connection_lost, the logs).
@Suite("The agent protocol (section 14)")
struct AgentProtocolTests {
    static let password = "s3cret-app-password"
    static let sshKey = "-----BEGIN KEY----- s3cret"

    /// One stack, a layer, a registered machine `box` and an instance `web` (both online),
    /// and an app whose source has a password and an SSH key.
    struct World {
        let f: Fixture
        let stack: String, layer: String, box: String, web: String, app: String
    }

    static func world(path: String? = nil, lostAfter: Int64 = 90) throws -> World {
        let clock = TestClock(exampleTime)
        let store = try Store(path: path, options: StoreOptions(clock: { clock.now }, durability: .off,
                                                                connectionLostAfter: lostAfter))
        let f = Fixture(store: store, clock: clock)
        let s = try f.stack()
        let layer = try f.layer(s)
        let box = try f.call("RegisterInstance", ["StackId": s, "Hostname": "box"])["InstanceId"] as! String
        let web = try f.instance(s, layers: [layer])
        let app = try f.call("CreateApp", ["StackId": s, "Name": "shop", "Type": "other",
                                           "AppSource": ["Type": "git", "Url": "git@example.com:shop.git",
                                                         "Password": password, "SshKey": sshKey]])["AppId"] as! String
        return World(f: f, stack: s, layer: layer, box: box, web: web, app: app)
    }

    static func poll(_ f: Fixture, _ instance: String, wait: Int? = nil) throws -> [[String: Any]] {
        var req: [String: Any] = ["InstanceId": instance]
        if let wait { req["WaitTimeSeconds"] = wait }
        return try f.call("PollCommands", req)["Commands"] as! [[String: Any]]
    }

    static func status(_ f: Fixture, _ instance: String) throws -> String {
        let i = try f.call("DescribeInstances", ["InstanceIds": [instance]])["Instances"] as! [[String: Any]]
        return i[0]["Status"] as! String
    }

    @Test("PollCommands: the instance's pending, not yet acknowledged commands, oldest first, with what running them needs")
    func pendingOldestFirst() throws {
        let w = try Self.world()
        let d1 = try w.f.deploy(w.stack, command: "execute_recipes", args: ["recipes": ["a::b", "c"]],
                                extra: ["InstanceIds": [w.box], "CustomJson": "{\"k\":1}"])
        w.f.clock.advance(1)
        let d2 = try w.f.deploy(w.stack, app: w.app, extra: ["InstanceIds": [w.box, w.web]])
        w.f.clock.advance(1)
        let d3 = try w.f.deploy(w.stack, command: "configure")
        let c1 = try w.f.commandIDs(d1)[0], c2 = try w.f.commandIDs(d2)[0], c3 = try w.f.commandIDs(d3)[0]
        let got = try Self.poll(w.f, w.box)
        #expect(got.map { $0["CommandId"] as? String } == [c1, c2, c3])
        #expect(got.map { $0["DeploymentId"] as? String } == [d1, d2, d3])
        #expect(got.map { $0["Type"] as? String } == ["execute_recipes", "deploy", "configure"])
        #expect(canonical(got[0]["Args"]!) == canonical(["recipes": ["a::b", "c"]]))
        #expect(got[0]["CustomJson"] as? String == "{\"k\":1}")
        #expect(got[0]["AppId"] == nil && got[0]["App"] == nil, "a stack command has no app")
        #expect(got[1]["AppId"] as? String == w.app)
        #expect(got[2]["CustomJson"] == nil)
        // Acknowledged or finished commands are no longer handed out.
        try w.f.call("AcknowledgeCommand", ["CommandId": c1])
        try w.f.complete(c2)
        #expect(try Self.poll(w.f, w.box).map { $0["CommandId"] as? String } == [c3])
        // Another instance's commands are its own.
        #expect(try Self.poll(w.f, w.web).map { $0["Type"] as? String } == ["deploy", "configure"])
    }

    @Test("PollCommands: an app command carries the app as deployed (its version at the deployment's creation), secrets included")
    func appAsDeployedWithSecrets() throws {
        let w = try Self.world()
        let d = try w.f.deploy(w.stack, app: w.app, extra: ["InstanceIds": [w.box]])
        try w.f.call("UpdateApp", ["AppId": w.app, "Name": "shop-v2",
                                   "AppSource": ["Type": "git", "Url": "git@example.com:v2.git", "Password": "newer"]])
        let got = try Self.poll(w.f, w.box)
        #expect(got.count == 1 && got[0]["DeploymentId"] as? String == d)
        let app = try #require(got[0]["App"] as? [String: Any])
        #expect(app["AppId"] as? String == w.app)
        #expect(app["StackId"] as? String == w.stack)
        #expect(app["Name"] as? String == "shop", "the version deployed, not the current one")
        let source = try #require(app["AppSource"] as? [String: Any])
        #expect(source["Password"] as? String == Self.password)
        #expect(source["SshKey"] as? String == Self.sshKey)
        // No Describe answer holds them.
        let everything = try w.f.dump()
        #expect(!everything.contains(Self.password) && !everything.contains(Self.sshKey))
    }

    @Test("PollCommands: WaitTimeSeconds is 0 to 20; an unknown instance is not found; a bad request changes nothing")
    func waitBounds() throws {
        let w = try Self.world()
        for bad in [-1, 21, 3600] {
            w.f.expectError("PollCommands", ["InstanceId": w.box, "WaitTimeSeconds": bad], "ValidationException",
                            "WaitTimeSeconds must be between 0 and 20, not \(bad)")
        }
        let x = unknownID()
        w.f.expectError("PollCommands", ["InstanceId": x], "ResourceNotFoundException", "Unable to find instance with ID \(x)")
        #expect(try Self.status(w.f, w.box) == "online")
        #expect(try Self.poll(w.f, w.box, wait: 0).isEmpty)
    }

    /// Runs a waiting poll on another thread; returns its commands and how long it took.
    static func waitingPoll(_ f: Fixture, _ instance: String, while body: () throws -> Void) throws -> ([[String: Any]], Double) {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<[[String: Any]], Error> = .success([])
        nonisolated(unsafe) var took = 0.0
        Thread.detachNewThread {
            let start = Date()
            result = Result { try poll(f, instance, wait: 20) }
            took = Date().timeIntervalSince(start)
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.2)   // the poll is waiting
        try body()
        done.wait()
        return (try result.get(), took)
    }

    @Test("PollCommands with WaitTimeSeconds returns as soon as a command exists, created through another handle")
    func longPollSameProcess() throws {
        let w = try Self.world()
        let other = w.f.as(nil)
        var d = ""
        let (got, took) = try Self.waitingPoll(w.f, w.box) {
            d = try other.deploy(w.stack, command: "configure", extra: ["InstanceIds": [w.box]])
        }
        #expect(got.map { $0["DeploymentId"] as? String } == [d])
        #expect(took < 10, "the poll waited for its whole 20 s: \(took)")
    }

    @Test("PollCommands with WaitTimeSeconds returns as soon as a command exists, created by another process's store")
    func longPollOtherProcess() throws {
        let path = sharedStorePath()
        let w = try Self.world(path: path)
        // Its own engine: no in-process signal reaches the poll, only the store's version.
        let elsewhere = try Fixture(path: path)
        var d = ""
        let (got, took) = try Self.waitingPoll(w.f, w.box) {
            d = try elsewhere.deploy(w.stack, command: "configure", extra: ["InstanceIds": [w.box]])
        }
        #expect(got.map { $0["DeploymentId"] as? String } == [d])
        #expect(took < 10, "the poll waited for its whole 20 s: \(took)")
    }

    @Test("The log URL key is made once and kept in the store: a reopened store, or another handle, gives the same key")
    func logURLKeyIsKept() throws {
        let path = temporaryPath()
        let first = [UInt8](repeating: 7, count: 32), second = [UInt8](repeating: 9, count: 32)
        do {
            let store = try Store(path: path)
            #expect(try store.logURLKey(candidate: first) == first)
            #expect(try store.logURLKey(candidate: second) == first)
        }
        let other = try Store(path: path)
        #expect(try other.logURLKey(candidate: second) == first)
        #expect(throws: OwdError.self) { try other.logURLKey(candidate: [1, 2, 3]) }
        #expect(try Store(path: nil).logURLKey(candidate: second) == second)
    }

    @Test("PollCommands with WaitTimeSeconds answers empty after that time when nothing arrives")
    func longPollTimesOut() throws {
        let w = try Self.world()
        let start = Date()
        #expect(try Self.poll(w.f, w.box, wait: 1).isEmpty)
        #expect(Date().timeIntervalSince(start) >= 0.9)
    }

    @Test("An instance whose agent was seen and has not polled for the interval shows connection_lost until it polls again")
    func connectionLost() throws {
        let w = try Self.world(lostAfter: 90)
        w.f.clock.advance(1000)
        #expect(try Self.status(w.f, w.box) == "online", "an agent never seen is not lost")
        _ = try Self.poll(w.f, w.box)
        w.f.clock.advance(89)
        #expect(try Self.status(w.f, w.box) == "online")
        w.f.clock.advance(1)
        #expect(try Self.status(w.f, w.box) == "connection_lost")
        #expect(try Self.status(w.f, w.web) == "online", "only the instance whose agent went quiet")
        _ = try Self.poll(w.f, w.box)
        #expect(try Self.status(w.f, w.box) == "online")
        // A stopped instance is stopped, whatever its agent did.
        _ = try Self.poll(w.f, w.web)
        try w.f.stop(w.web)
        w.f.clock.advance(500)
        #expect(try Self.status(w.f, w.web) == "stopped")
    }

    @Test("connection_lost: the interval is the store's option; a waiting poll counts as seen until it ends")
    func connectionLostInterval() throws {
        let w = try Self.world(lostAfter: 5)
        _ = try Self.poll(w.f, w.box, wait: 1)
        w.f.clock.advance(5)
        #expect(try Self.status(w.f, w.box) == "online", "seen until the poll's end (1 s after it began)")
        w.f.clock.advance(1)
        #expect(try Self.status(w.f, w.box) == "connection_lost")
        #expect(throws: OwdError.self) { try Store(path: nil, options: StoreOptions(connectionLostAfter: 0)) }
    }

    @Test("CompleteCommand keeps the Log's last 1 MiB; GetCommandLog reads it back")
    func logKept() throws {
        let w = try Self.world()
        let d = try w.f.deploy(w.stack, command: "configure")
        let (a, b) = (try w.f.commandIDs(d)[0], try w.f.commandIDs(d)[1])
        try w.f.call("CompleteCommand", ["CommandId": a, "Status": "successful", "ExitCode": 0, "Log": "line 1\nline 2\n"])
        #expect(try w.f.call("GetCommandLog", ["CommandId": a])["Log"] as? String == "line 1\nline 2\n")
        // Longer than 1 MiB: the end is kept, cut at a character boundary ("é" is 2 bytes).
        let head = String(repeating: "h", count: 1000)
        let tail = String(repeating: "é", count: Limits.keptLog / 2) + "end"
        try w.f.call("CompleteCommand", ["CommandId": b, "Status": "failed", "ExitCode": 3, "Log": head + tail])
        let kept = try #require(try w.f.call("GetCommandLog", ["CommandId": b])["Log"] as? String)
        #expect(kept.utf8.count <= Limits.keptLog)
        #expect(kept.hasSuffix("end") && !kept.contains("h"))
        #expect(kept.utf8.count >= Limits.keptLog - 1)
        // A command without a log, and one that does not exist.
        let d2 = try w.f.deploy(w.stack, command: "configure")
        #expect(try w.f.call("GetCommandLog", ["CommandId": try w.f.commandIDs(d2)[0]]).isEmpty)
        let x = unknownID()
        w.f.expectError("GetCommandLog", ["CommandId": x], "ResourceNotFoundException", "Unable to find command with ID \(x)")
        // In-process answers give no LogUrl (no server signs one).
        #expect(try w.f.commands(["DeploymentId": d]).allSatisfy { $0["LogUrl"] == nil })
    }

    @Test("A log beyond the request limit is refused and changes nothing")
    func logLimit() throws {
        let w = try Self.world()
        let d = try w.f.deploy(w.stack, command: "configure", extra: ["InstanceIds": [w.box]])
        let c = try w.f.commandIDs(d)[0]
        let e = w.f.error("CompleteCommand", ["CommandId": c, "Status": "successful",
                                              "Log": String(repeating: "x", count: Limits.log + 1)])
        #expect(e?.type == "ValidationException")
        #expect(try w.f.commands(["CommandIds": [c]])[0]["Status"] as? String == "pending")
    }

    @Test("A stored log's LogUrl is what the serving front end makes of the command ID")
    func logURLHook() throws {
        let w = try Self.world()
        let d = try w.f.deploy(w.stack, command: "configure", extra: ["InstanceIds": [w.box]])
        let c = try w.f.commandIDs(d)[0]
        w.f.store.serveLogs { "http://127.0.0.1:1/logs/\($0)" }
        #expect(try w.f.commands(["CommandIds": [c]])[0]["LogUrl"] == nil, "no log yet")
        try w.f.call("CompleteCommand", ["CommandId": c, "Status": "successful", "Log": "ok"])
        #expect(try w.f.commands(["CommandIds": [c]])[0]["LogUrl"] as? String == "http://127.0.0.1:1/logs/\(c)")
        #expect(try w.f.store.commandLog(c) == "ok")
    }

    @Test("Removing a deployment takes its commands' logs with it")
    func logsGoWithTheirCommands() throws {
        let path = sharedStorePath()
        let w = try Self.world(path: path)
        let d = try w.f.deploy(w.stack, command: "configure", extra: ["InstanceIds": [w.box]])
        let c = try w.f.commandIDs(d)[0]
        try w.f.call("CompleteCommand", ["CommandId": c, "Status": "successful", "Log": "bye"])
        try w.f.store.remove(.deployment, id: d)
        #expect(try w.f.store.commandLog(c) == nil)
    }
}
