import CJansson
import Foundation
@testable import OwdCore
import Testing

/// The server's way to wait (section 14's long-poll without a thread per poll): one
/// PollWaiter for many polls, each answered exactly once.
@Suite("PollWaiter: many waiting polls, one thread")
struct PollWaiterTests {
    final class Answers: @unchecked Sendable {
        let lock = NSLock()
        var texts: [String: [String]] = [:]
        var at: [String: Date] = [:]
        func add(_ box: String, _ r: Result<UnsafeMutablePointer<CChar>, Error>) {
            lock.lock()
            defer { lock.unlock() }
            switch r {
            case .success(let p): texts[box, default: []].append(String(cString: p)); free(p)
            case .failure(let e): texts[box, default: []].append("error: \(e)")
            }
            at[box] = Date()
        }
        var snapshot: ([String: [String]], [String: Date]) { lock.lock(); defer { lock.unlock() }; return (texts, at) }
    }

    static func start(_ f: Fixture, _ box: String, wait: Int) throws -> PollStart {
        let text = #"{"InstanceId":"\#(box)","WaitTimeSeconds":\#(wait)}"#
        var e = json_error_t()
        let j = json_loads(text, 0, &e)!
        defer { cjansson_decref(j) }
        return try f.store.startPollCommands(j)
    }

    static func commands(_ text: String) throws -> [[String: Any]] {
        let o = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        return o["Commands"] as! [[String: Any]]
    }

    static func waitFor(_ answers: Answers, count: Int, seconds: Double) {
        let end = Date().addingTimeInterval(seconds)
        while answers.snapshot.0.values.reduce(0, { $0 + $1.count }) < count && Date() < end { Thread.sleep(forTimeInterval: 0.01) }
    }

    @Test("Many waiting polls: each answered once, with its commands, when a deployment made by another process's store reaches it")
    func manyPollsOtherProcess() throws {
        let path = temporaryPath()
        let w = try AgentProtocolTests.world(path: path)
        let boxes = try (0..<30).map { i in
            try w.f.call("RegisterInstance", ["StackId": w.stack, "Hostname": "h\(i)"])["InstanceId"] as! String
        }
        let waiter = PollWaiter(store: w.f.store)
        defer { waiter.stop() }
        let answers = Answers()
        for b in boxes {
            guard case .waiting(let poll) = try Self.start(w.f, b, wait: 20) else {
                Issue.record("a poll with nothing to do answered at once"); return
            }
            waiter.add(poll) { answers.add(b, $0) }
        }
        #expect(waiter.count == 30)
        Thread.sleep(forTimeInterval: 0.1)
        #expect(answers.snapshot.0.isEmpty)
        // Its own engine: only the store's version tells the waiter.
        let elsewhere = try Fixture(path: path)
        let made = Date()
        let d = try elsewhere.deploy(w.stack, command: "configure", extra: ["InstanceIds": Array(boxes.prefix(20))])
        Self.waitFor(answers, count: 20, seconds: 15)
        let (texts, at) = answers.snapshot
        for b in boxes.prefix(20) {
            #expect(texts[b]?.count == 1)
            let c = try Self.commands(texts[b]?.first ?? #"{"Commands":[]}"#)
            #expect(c.map { $0["DeploymentId"] as? String } == [d])
            #expect((at[b] ?? .distantFuture).timeIntervalSince(made) < 10)
        }
        // The 10 the deployment did not reach go on waiting; stopping answers them empty.
        for b in boxes.suffix(10) { #expect(texts[b] == nil) }
        #expect(waiter.count == 10)
        waiter.stop()
        let (after, _) = answers.snapshot
        for b in boxes.suffix(10) { #expect(after[b] == [#"{"Commands":[]}"#]) }
        for b in boxes.prefix(20) { #expect(after[b]?.count == 1) }
        // Stopped: a later poll is answered at once, empty.
        guard case .waiting(let late) = try Self.start(w.f, boxes[25], wait: 20) else { Issue.record("no wait"); return }
        waiter.add(late) { answers.add("late", $0) }
        #expect(answers.snapshot.0["late"] == [#"{"Commands":[]}"#])
    }

    @Test("A waiting poll is answered empty at its deadline; one with commands already, or WaitTimeSeconds 0, does not wait")
    func deadlines() throws {
        let w = try AgentProtocolTests.world()
        let waiter = PollWaiter(store: w.f.store)
        defer { waiter.stop() }
        let answers = Answers()
        guard case .waiting(let poll) = try Self.start(w.f, w.box, wait: 1) else { Issue.record("no wait"); return }
        let started = Date()
        waiter.add(poll) { answers.add(w.box, $0) }
        Self.waitFor(answers, count: 1, seconds: 10)
        let (texts, at) = answers.snapshot
        #expect(texts[w.box] == [#"{"Commands":[]}"#])
        #expect((at[w.box] ?? .distantFuture).timeIntervalSince(started) >= 0.9)
        #expect(waiter.count == 0)

        guard case .answered(let empty) = try Self.start(w.f, w.box, wait: 0) else { Issue.record("waited"); return }
        #expect(String(cString: empty) == #"{"Commands":[]}"#)
        free(empty)
        let d = try w.f.deploy(w.stack, command: "configure", extra: ["InstanceIds": [w.box]])
        guard case .answered(let now) = try Self.start(w.f, w.box, wait: 20) else { Issue.record("waited"); return }
        #expect(try Self.commands(String(cString: now)).map { $0["DeploymentId"] as? String } == [d])
        free(now)
    }

    @Test("A command made after the newest one was removed (its seq used again) still reaches a waiting poll")
    func newestRemoved() throws {
        let w = try AgentProtocolTests.world()
        let waiter = PollWaiter(store: w.f.store)
        defer { waiter.stop() }
        let answers = Answers()
        // The newest command is the web instance's; the box's poll waits, and looks.
        let first = try w.f.deploy(w.stack, command: "configure", extra: ["InstanceIds": [w.web]])
        guard case .waiting(let poll) = try Self.start(w.f, w.box, wait: 20) else { Issue.record("no wait"); return }
        waiter.add(poll) { answers.add(w.box, $0) }
        Thread.sleep(forTimeInterval: 0.05)
        // Removed: the next command takes its seq, with another ID.
        try w.f.store.remove(.deployment, id: first)
        let d = try w.f.deploy(w.stack, command: "configure", extra: ["InstanceIds": [w.box]])
        Self.waitFor(answers, count: 1, seconds: 10)
        let texts = answers.snapshot.0[w.box] ?? []
        #expect(texts.count == 1)
        #expect(try Self.commands(texts.first ?? #"{"Commands":[]}"#).map { $0["DeploymentId"] as? String } == [d])
    }
}
