import CSQLite

/// Every operation is one transaction.
extension Engine {

    /// Runs `body` as one atomic change, and returns once that change is committed (and
    /// synced, at the store's durability) and the cache is up to it, so every later call,
    /// on any thread, sees it. Concurrent writers of this engine share one commit and its
    /// sync (group commit, below); `body` may therefore run on another writer's thread,
    /// while this one waits. A write that fails changed nothing.
    /// `deferCacheLoad`: the cache loads this change at the next read instead of before
    /// the call returns (`owd import`: a million records a process that exits may never read).
    func write<T>(deferCacheLoad: Bool = false, _ body: (Connection, Int64) throws -> T) throws -> T {
        try withoutActuallyEscaping(body) { body in
            var result: T?
            // The caller blocks until its call is done, so `body` outlives every use.
            let call = PendingWrite { c, change in result = try body(c, change) }
            call.deferCacheLoad = deferCacheLoad
            try commit(call)
            guard let result else { throw OwdError.internal("a committed write left no result") }
            return result
        }
    }

    /// Group commit, leader and followers. A writer that finds no group running leads
    /// one at once (alone, it waits for nothing: exactly one transaction, as without
    /// groups). Writers that arrive while a group runs queue; when the group has
    /// committed, its leader wakes the calls it carried and the first queued writer, who
    /// leads the next group with every call queued by then. So calls that overlap share
    /// a sync, and a call that returned before another started was committed before it.
    private func commit(_ call: PendingWrite) throws {
        let g = group
        g.mutex.lock()
        g.queue.append(call)
        if let leader = g.gathering, g.queue.count >= g.gather { leader.woken.signal() }
        while !call.done {
            if g.leading || call.taken {
                call.woken.wait(g.mutex)
                continue
            }
            g.leading = true
            if g.gather > 0 {   // tests: hold this group until that many calls queued
                g.gathering = call
                while g.queue.count < g.gather { call.woken.wait(g.mutex) }
                g.gathering = nil
                g.gather = 0
            }
            let batch = g.queue
            g.queue.removeAll(keepingCapacity: true)
            for p in batch { p.taken = true }
            let hook = g.beforeCommit
            g.beforeCommit = nil
            g.mutex.unlock()
            // Readers never take writeLock (file stores read through their own
            // connection), so no reader waits on this group's sync.
            let started = monotonicNanoseconds()
            let committed = writeLock.locked { run(batch, beforeCommit: hook) }
            let took = monotonicNanoseconds() - started
            g.mutex.lock()
            if committed { g.lastCommitNanoseconds = took }
            g.groups += 1
            g.calls += batch.count
            g.largest = max(g.largest, batch.count)
            g.leading = false
            let next = g.queue.first
            g.mutex.unlock()
            // The next group starts now (each wake is a system call: outside the mutex;
            // `next` keeps its `PendingWrite` alive), while this one's cache load (file
            // stores: through the reader, as reads load) runs beside it, before its
            // calls return.
            next?.woken.signal()
            if committed && reader != nil {
                if batch.allSatisfy(\.deferCacheLoad) {
                    cache.writing { $0.stale = true }   // the next read loads it (sync)
                } else {
                    catchUp()
                }
            }
            g.mutex.lock()
            for p in batch {
                // Its caller returns from `withoutActuallyEscaping` once done: nothing
                // may hold its body by then.
                p.body = nil
                p.done = true
            }
            g.mutex.unlock()
            for p in batch where p !== call { p.woken.signal() }
            g.mutex.lock()
        }
        g.mutex.unlock()
        if let error = call.error { throw error }
    }

    /// Commits one group (under writeLock); true when any call's change was committed.
    /// Each call's fate is in its `error`. In-memory stores bring the cache up here (their
    /// one connection is the writer); file stores after writeLock is released.
    private func run(_ batch: [PendingWrite], beforeCommit hook: (() -> Void)?) -> Bool {
        if batch.count == 1 || !runTogether(batch, beforeCommit: hook) {
            // Alone, or the group's transaction could not commit as a whole: each call
            // that was not refused by its own rules gets a transaction of its own, and
            // the fate it would have had alone.
            for p in batch where !p.refused { runAlone(p, beforeCommit: hook) }
        }
        guard batch.contains(where: { $0.error == nil }) else { return false }
        commits.committed()   // wakes PollCommands' waits (section 14): once a group
        if reader == nil { catchUp() }
        return true
    }

    /// After a commit: the cache up to it before its calls return. The calls succeeded,
    /// whatever happens here: should the cache fail to follow (memory ran out), the next
    /// read reloads it.
    private func catchUp() {
        do {
            if reader != nil {
                try readLock.locked { dataVersion = try loadThroughReader() }
            } else {
                _ = try writer.transaction(immediate: false) { try load(writer) }
            }
        } catch {
            cache.writing { $0.stale = true }
        }
    }

    private func runAlone(_ p: PendingWrite, beforeCommit hook: (() -> Void)?) {
        do {
            try writer.transaction(immediate: true) {
                try apply(p)
                hook?()
            }
            p.error = nil
        } catch {
            p.error = error
        }
    }

    /// One transaction for the whole group, each call in its own savepoint: a call that
    /// fails rolls back to its savepoint and leaves the others as they were. False when
    /// the transaction itself failed (an error that rolls back the whole transaction,
    /// such as a full disk, or a failed COMMIT): nothing of the group was committed.
    private func runTogether(_ batch: [PendingWrite], beforeCommit hook: (() -> Void)?) -> Bool {
        do {
            try writer.begin(immediate: true)
        } catch {
            // The store is busy (another process held it past the busy timeout): nothing
            // ran; every call is refused alike and may be retried.
            for p in batch { p.error = error }
            return true
        }
        var intact = true
        calls: for p in batch {
            do {
                try writer.prepare("SAVEPOINT owd_call").run()
            } catch {
                intact = false
                break
            }
            do {
                try apply(p)
                try writer.prepare("RELEASE owd_call").run()
            } catch {
                p.error = error
                if !writer.inTransaction { intact = false; break calls }
                writer.pg?.lockedChange = nil   // the call's bump, if any, is undone
                do {
                    try writer.prepare("ROLLBACK TO owd_call").run()
                    try writer.prepare("RELEASE owd_call").run()
                    p.refused = true
                } catch {
                    intact = false
                    break calls
                }
            }
        }
        if intact {
            hook?()
            do {
                try writer.commit()
                return true
            } catch {
                if writer.pg != nil {
                    // PostgreSQL: a failed COMMIT, or a lost connection, may have committed
                    // (the server may have done it before the answer was lost): running
                    // the calls again could make each change twice. Each call fails.
                    for p in batch where !p.refused { p.error = error }
                    return true
                }
            }
        }
        if writer.lost, let pg = writer.pg {
            // The connection was lost inside the group's transaction: nothing committed.
            // Each call fails alike, as it would have alone (the next call reconnects).
            let lost = pg.lostError()
            writer.rollback()
            for p in batch where !p.refused { p.error = lost }
            return true
        }
        writer.rollback()
        for p in batch where !p.refused { p.error = nil }
        return false
    }

    /// One call as one change: the next change number, the body, the bump.
    private func apply(_ p: PendingWrite) throws {
        guard let body = p.body else { throw OwdError.internal("a write ran after it was done") }
        // PostgreSQL: the write lock read the change number (one round trip fewer).
        let change = try (writer.pg?.lockedChange ?? writer.scalar("SELECT value FROM meta WHERE key='change_seq'")) + 1
        writer.pg?.lockedChange = nil
        try body(writer, change)
        let bump = try writer.prepare("UPDATE meta SET value=? WHERE key='change_seq'")
        bump.bind(1, change)
        try bump.run()
        writer.pg?.lockedChange = change
    }

    /// Runs `body` with a connection for reading (a read transaction: one snapshot).
    func read<T>(_ body: (Connection) throws -> T) throws -> T {
        if let reader {
            return try readLock.locked { try reader.transaction(immediate: false) { try body(reader) } }
        }
        return try writeLock.locked { try writer.transaction(immediate: false) { try body(writer) } }
    }

    /// Deletes a cached record inside a write transaction (`change` is the write's change
    /// number) and leaves a tombstone, so that every handle and every process forgets it
    /// on its next call. The one way to delete what the cache holds: DeleteStack, DeleteApp
    /// and the other deletions call it. A deployment takes its commands with it.
    func remove(_ c: Connection, change: Int64, _ kind: Tombstone.Kind, id: String, iamUserArn: String? = nil) throws {
        switch kind {
        case .stack:
            try c.prepare("DELETE FROM stacks WHERE id=?").bind(1, id).run()
        case .app:
            try c.prepare("DELETE FROM apps WHERE id=?").bind(1, id).run()
            try c.prepare("DELETE FROM app_versions WHERE app_id=?").bind(1, id).run()
        case .deployment:
            try c.prepare("DELETE FROM command_logs WHERE command_id IN (SELECT id FROM commands WHERE deployment_id=?)").bind(1, id).run()
            try c.prepare("DELETE FROM commands WHERE deployment_id=?").bind(1, id).run()
            try c.prepare("DELETE FROM deployments WHERE id=?").bind(1, id).run()
        case .permission:
            try c.prepare("DELETE FROM permissions WHERE stack_id=? AND iam_user_arn=?").bind(1, id).bind(2, iamUserArn).run()
        case .instance:
            // Its commands stay: history (section 12).
            try c.prepare("DELETE FROM instances WHERE id=?").bind(1, id).run()
        case .userProfile:
            try c.prepare("DELETE FROM user_profiles WHERE iam_user_arn=?").bind(1, id).run()
        }
        let s = try c.prepare("INSERT INTO tombstones(kind, id, iam_user_arn, change_seq) VALUES(?,?,?,?)")
        s.bind(1, kind.rawValue).bind(2, id).bind(3, iamUserArn).bind(4, change)
        try s.run()
    }
}

/// A deletion, as the change sequence carries it to the caches.
struct Tombstone {
    enum Kind: String {
        case stack, app, deployment, permission, instance
        case userProfile = "user_profile"
    }

    let kind: Kind
    /// The record's ID (a permission's: its stack's; a user profile's: its IAM user ARN).
    let id: String
    /// A permission's user.
    let iamUserArn: String?
}

/// One write call waiting for the group commit that carries it. Its fields other than
/// `body` are reached under the group's mutex, or by the leader running it.
final class PendingWrite {
    /// Released by the leader once the call is done.
    var body: ((Connection, Int64) throws -> Void)?
    /// Signalled when the call is done, or when it should lead the next group.
    let woken = Condition()
    var error: Error?
    /// In a group (run, or being run, by its leader).
    var taken = false
    var done = false
    /// Refused by its own rules inside a group (its savepoint rolled back): not run again
    /// if the group's transaction fails.
    var refused = false
    /// The cache may load this change at the next read (Engine.write(deferCacheLoad:)).
    var deferCacheLoad = false

    init(_ body: @escaping (Connection, Int64) throws -> Void) { self.body = body }
}

/// The writers of one engine: the calls queued for the next group, and whether a leader
/// is running one. Within one process: SQLite lets one writer at a time commit to a file,
/// so writers in different processes take turns, each process grouping its own.
final class GroupCommit {
    let mutex = Mutex()
    /// Calls waiting for the next group, in arrival order.
    var queue: [PendingWrite] = []
    var leading = false
    /// Tests: the next leader waits until this many calls are queued (a forced group),
    /// and runs `beforeCommit` just before its COMMIT. Both are used once.
    var gather = 0
    var beforeCommit: (() -> Void)?
    var gathering: PendingWrite?
    /// Groups committed, the calls they carried, the largest group.
    var groups = 0
    var calls = 0
    var largest = 0
    /// How long the last group that committed took, BEGIN to COMMIT and its sync (-1: none yet).
    var lastCommitNanoseconds: Int64 = -1
}

extension Engine {
    /// Tests: the next group waits until `calls` writes are queued, then runs them in one
    /// transaction, calling `beforeCommit` (on the leader's thread) just before COMMIT.
    func gatherNextGroup(_ calls: Int, beforeCommit: (() -> Void)? = nil) {
        group.mutex.locked {
            group.gather = calls
            group.beforeCommit = beforeCommit
        }
    }

    /// Groups committed so far, the calls they carried, and the largest.
    var groupStatistics: (groups: Int, calls: Int, largest: Int) {
        group.mutex.locked { (group.groups, group.calls, group.largest) }
    }
}
