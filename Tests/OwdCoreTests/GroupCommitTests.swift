import Foundation
@testable import OwdCore
import Testing

/// Section 8: concurrent writers of one process may share a commit and its sync (group
/// commit); each call is still one atomic change, a call that fails changes nothing and
/// does not affect the calls it shared a commit with. The groups here are forced
/// (`Engine.gatherNextGroup`: the leader waits until that many calls are queued), so each
/// test knows exactly which calls shared a commit, with no sleeps.
@Suite("Group commit: concurrent writers share a commit")
struct GroupCommitConcurrencyTests {
    /// Runs `bodies` on threads of their own at once (real threads: a forced group needs
    /// every call queued, more than a 2-core pool would run), and waits for all.
    static func together(_ bodies: [@Sendable () -> Void]) {
        let done = DispatchSemaphore(value: 0)
        for body in bodies {
            let t = Thread { body(); done.signal() }
            t.start()
        }
        for _ in bodies { done.wait() }
    }

    final class Outcome: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Int: Result<String, OwdError>] = [:]
        func set(_ i: Int, _ r: Result<String, OwdError>) { lock.lock(); values[i] = r; lock.unlock() }
        subscript(_ i: Int) -> Result<String, OwdError>? { lock.lock(); defer { lock.unlock() }; return values[i] }
    }

    static func create(_ f: Fixture, _ stack: String) -> Result<String, OwdError> {
        do {
            return .success(try f.deploy(stack, command: "configure"))
        } catch let e as OwdError {
            return .failure(e)
        } catch {
            return .failure(.internal("\(error)"))
        }
    }

    @Test("A group in which one call is refused (an unknown stack) commits the others")
    func refusedCallCommitsTheOthers() throws {
        let path = sharedStorePath()
        let f = try Fixture(path: path)
        let stack = try f.stack()
        _ = try f.instance(stack, layers: [try f.layer(stack)])
        let engine = f.store.engine
        let before = engine.groupStatistics
        let unknown = "00000000-0000-4000-8000-000000000000"
        let out = Outcome()
        engine.gatherNextGroup(5)
        Self.together((0..<5).map { i in { out.set(i, Self.create(f, i == 2 ? unknown : stack)) } })
        let after = engine.groupStatistics
        #expect(after.groups == before.groups + 1, "the five calls were one group")
        #expect(after.calls == before.calls + 5)
        guard case .failure(let e)? = out[2] else { Issue.record("the call on an unknown stack succeeded"); return }
        #expect(e.type == "ResourceNotFoundException")
        #expect(e.message == "Unable to find stack with ID \(unknown)")
        var ids: [String] = []
        for i in [0, 1, 3, 4] {
            guard case .success(let id)? = out[i] else { Issue.record("call \(i) failed: \(String(describing: out[i]))"); continue }
            ids.append(id)
        }
        #expect(ids.count == 4)
        #expect(try f.deployments(["DeploymentIds": ids]).count == 4)
        #expect(try f.deployments(["StackId": stack]).count == 4)
        // Committed for everyone: a second engine on the file (as another process) sees
        // the four, each its own change.
        let other = try Fixture(path: path)
        #expect(Set(try other.deployments(["StackId": stack]).map { $0["DeploymentId"] as! String }) == Set(ids))
        let changes = try engine.read { c -> [Int64] in
            let s = try c.prepare("SELECT change_seq FROM deployments ORDER BY change_seq")
            defer { s.reset() }
            var out: [Int64] = []
            while try s.step() { out.append(s.int(0)) }
            return out
        }
        #expect(Set(changes).count == 4, "one change number per call: \(changes)")
    }

    @Test("A call that fails after writing rolls back to its savepoint; the group's other calls commit")
    func failedCallAfterWritingChangesNothing() throws {
        let path = sharedStorePath()
        let f = try Fixture(path: path)
        let stack = try f.stack()
        _ = try f.instance(stack, layers: [try f.layer(stack)])
        let engine = f.store.engine
        let partial = "11111111-1111-4111-8111-111111111111"
        let seqBefore = try engine.read { try $0.scalar("SELECT value FROM meta WHERE key='change_seq'") }
        let out = Outcome()
        let failed = Outcome()
        engine.gatherNextGroup(3)
        Self.together([
            { out.set(0, Self.create(f, stack)) },
            {
                do {
                    try engine.write { c, change in
                        let s = try c.prepare("INSERT INTO stacks(id, region, created_at, body, change_seq) VALUES(?,?,?,?,?)")
                        s.bind(1, partial).bind(2, "us-east-1").bind(3, Int64(0)).bind(4, "{}").bind(5, change)
                        try s.run()
                        throw OwdError.validation("refused after writing")
                    }
                    failed.set(0, .success("wrote"))
                } catch let e as OwdError {
                    failed.set(0, .failure(e))
                } catch {
                    failed.set(0, .failure(.internal("\(error)")))
                }
            },
            { out.set(1, Self.create(f, stack)) },
        ])
        guard case .failure(let e)? = failed[0] else { Issue.record("the failing write succeeded"); return }
        #expect(e.message == "refused after writing")
        for i in 0..<2 {
            guard case .success? = out[i] else { Issue.record("create \(i) failed: \(String(describing: out[i]))"); continue }
        }
        let (stacks, seq) = try engine.read { c in
            (try c.prepare("SELECT count(*) FROM stacks WHERE id=?").bind(1, partial).int0(),
             try c.scalar("SELECT value FROM meta WHERE key='change_seq'"))
        }
        #expect(stacks == 0, "the failed call's row was rolled back")
        #expect(seq == seqBefore + 2, "two changes, none for the failed call")
        #expect(try f.deployments(["StackId": stack]).count == 2)
    }

    @Test("Readers never wait on a group, and see nothing of it before it has committed")
    func readersDoNotWaitAndSeeOnlyCommitted() throws {
        let path = sharedStorePath()
        let f = try Fixture(path: path)
        let stack = try f.stack()
        _ = try f.instance(stack, layers: [try f.layer(stack)])
        let first = try f.deploy(stack, command: "configure")
        let other = try Fixture(path: path)
        let engine = f.store.engine
        let seen = Outcome()
        // Just before the group's COMMIT (the group written, its leader holding the
        // writer), two readers on other threads: this engine, and another one on the file.
        engine.gatherNextGroup(2, beforeCommit: {
            let read = DispatchSemaphore(value: 0)
            let t = Thread {
                let mine = (try? f.deployments(["StackId": stack]).count) ?? -1
                let theirs = (try? other.deployments(["StackId": stack]).count) ?? -1
                seen.set(0, .success("\(mine) \(theirs)"))
                read.signal()
            }
            t.start()
            if read.wait(timeout: .now() + 30) == .timedOut { seen.set(0, .failure(.internal("a reader waited on the group"))) }
        })
        let out = Outcome()
        Self.together([{ out.set(0, Self.create(f, stack)) }, { out.set(1, Self.create(f, stack)) }])
        #expect(seen[0].map { (try? $0.get()) ?? "\($0)" } == "1 1", "before COMMIT both readers see only the first deployment")
        #expect(try f.deployments(["StackId": stack]).count == 3)
        #expect(try other.deployments(["StackId": stack]).count == 3)
        #expect(try f.deployments(["DeploymentIds": [first]]).count == 1)
    }

    @Test("Concurrent writers: a call that returned before another started is committed before it")
    func orderOfCallsThatDoNotOverlap() throws {
        let path = sharedStorePath()
        let clock = TestClock(exampleTime)
        let store = try Store(path: path, options: StoreOptions(clock: { clock.now }, durability: .off))
        let f = Fixture(store: store, clock: clock)
        let stack = try f.stack()
        _ = try f.instance(stack, layers: [try f.layer(stack)])
        let threads = 8, each = 25
        let ids = (0..<threads).map { _ in Outcome() }
        Self.together((0..<threads).map { t in {
            for i in 0..<each { ids[t].set(i, Self.create(f, stack)) }
        } })
        let seqs = try store.engine.read { c -> [String: Int64] in
            let s = try c.prepare("SELECT id, change_seq FROM deployments")
            defer { s.reset() }
            var out: [String: Int64] = [:]
            while try s.step() { out[s.string(0) ?? ""] = s.int(1) }
            return out
        }
        #expect(seqs.count == threads * each)
        for t in 0..<threads {
            let mine = (0..<each).compactMap { try? ids[t][$0]?.get() }.compactMap { seqs[$0] }
            #expect(mine.count == each)
            #expect(mine == mine.sorted() && Set(mine).count == each, "thread \(t): \(mine)")
        }
        let stats = store.engine.groupStatistics
        #expect(stats.calls >= threads * each)
    }

    @Test("A writer alone waits for no group: one call, one commit")
    func aloneIsOneCommit() throws {
        let f = try Fixture(path: sharedStorePath())
        let stack = try f.stack()
        let before = f.store.engine.groupStatistics
        _ = try f.layer(stack)
        let after = f.store.engine.groupStatistics
        #expect(after.groups == before.groups + 1 && after.calls == before.calls + 1)
    }
}

private extension Statement {
    /// The first column of the first row, then reset.
    func int0() throws -> Int64 {
        defer { reset() }
        guard try step() else { return 0 }
        return int(0)
    }
}
