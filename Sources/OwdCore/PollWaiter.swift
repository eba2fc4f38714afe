import CJansson
#if canImport(Glibc)
import Glibc
#endif

/// A PollCommands call between its first look and its answer (Store.startPoll).
public final class WaitingPoll {
    let store: Store
    let instanceID: String
    /// When it answers empty (monotonic nanoseconds).
    let deadline: Int64
    /// The commit count before the first look: a commit since then may hold its commands.
    let generation: UInt64
    /// The store's version at the last look (nil: never looked).
    var version: Int64?
    /// The newest command at the last look (seq and ID).
    var newest: Newest?

    /// The newest command: a command becomes pending and unacknowledged only by its INSERT
    /// (Acknowledge and Complete only move it on; Complete never sets `pending`), and an
    /// INSERT makes the newest row (seq = the largest + 1, a new ID) until it is deleted. So
    /// while the newest command is the same row, no poll can have a command it had not.
    struct Newest: Equatable {
        let seq: Int64
        let id: String
        static func read(_ c: Connection) throws -> Newest? {
            let s = try c.prepare("SELECT seq, id FROM commands ORDER BY seq DESC LIMIT 1")
            defer { s.reset() }
            return try s.step() ? Newest(seq: s.int(0), id: s.string(1) ?? "") : nil
        }
    }
    /// Its answer, once known.
    var commands: [Value]?

    init(store: Store, instanceID: String, deadline: Int64) {
        self.store = store
        self.instanceID = instanceID
        self.deadline = deadline
        generation = store.engine.commits.generation
    }

    /// The instance's commands when there are some now, else nil; a store that has not
    /// changed since the last look is not read again.
    func look() throws -> [Value]? {
        let seen = try store.engine.storeVersion()
        if seen == version { return nil }
        version = seen
        let commands = try store.engine.read { c in try look(c) }
        return commands.isEmpty ? nil : commands
    }

    /// The instance's commands (none when no command was added since the last look).
    func look(_ c: Connection) throws -> [Value] {
        let now = try Newest.read(c)
        if let newest, newest == now { return [] }
        newest = now
        return try store.pendingCommands(c, instanceID)
    }

    /// The answer as JSON text (malloc'd, for `free`), as the poll's store handle gives it
    /// (a handle that withholds secrets filters them: Store.pollAnswer).
    func text(_ commands: [Value]) throws -> UnsafeMutablePointer<CChar> {
        let json = try store.pollAnswer(commands)
        defer { cjansson_decref(json) }
        var text = JSONText(capacity: 256)
        text.value(json)
        guard let out = text.take() else { throw OwdError.outOfMemory }
        return out
    }
}

/// What `Store.startPollCommands` found.
public enum PollStart {
    /// The answer now (JSON text, malloc'd): commands were there, or the call does not wait.
    case answered(UnsafeMutablePointer<CChar>)
    /// Nothing yet: hand the poll to a PollWaiter.
    case waiting(WaitingPoll)
}

/// The long-polls of a server, all waited for by one thread, so that a waiting poll holds
/// no request thread (section 14). The thread sleeps while no poll waits. While some do,
/// it wakes on every commit of this process (CommitSignal), at the nearest deadline, and
/// every `Store.pollCheckNanoseconds` to see other processes' commits (one
/// `PRAGMA data_version` for all the polls); when the store changed, it looks in one
/// read transaction: when a command was added since a poll's last look (the newest
/// command is another row), it reads that instance's commands and answers if there are
/// some. (Acknowledge, Complete and the polls' own writes add none: one indexed read
/// each, not one per waiting poll.) A poll is answered exactly once: with its commands, empty at its deadline,
/// or empty when the waiter stops.
public final class PollWaiter: @unchecked Sendable {
    /// The answer's JSON text (malloc'd; the callee owns it), or the store's failure.
    public typealias Answer = (Result<UnsafeMutablePointer<CChar>, Error>) -> Void

    final class Entry {
        let poll: WaitingPoll
        let answer: Answer
        init(_ poll: WaitingPoll, _ answer: @escaping Answer) {
            self.poll = poll
            self.answer = answer
        }
    }

    let engine: Engine
    private let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let c = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var entries: [Entry] = []
    private var stopping = false
    private var thread: pthread_t?

    public init(store: Store) {
        engine = store.engine
        pthread_mutex_init(m, nil)
        pthread_cond_init(c, nil)
    }

    deinit {
        stop()
        pthread_cond_destroy(c)
        pthread_mutex_destroy(m)
        c.deallocate()
        m.deallocate()
    }

    /// Polls waiting now.
    public var count: Int {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return entries.count
    }

    /// Waits for `poll`'s commands; `answer` is called once, on the waiter's thread (or on
    /// this one, at once, when the waiter has stopped).
    public func add(_ poll: WaitingPoll, answer: @escaping Answer) {
        pthread_mutex_lock(m)
        if stopping {
            pthread_mutex_unlock(m)
            answer(Result { try poll.text([]) })
            return
        }
        entries.append(Entry(poll, answer))
        if thread == nil {
            let me = Unmanaged.passRetained(self).toOpaque()
            var t = pthread_t()
            if pthread_create(&t, nil, { p in
                let w = Unmanaged<PollWaiter>.fromOpaque(p!).takeRetainedValue()
                w.run()
                return nil
            }, me) == 0 {
                thread = t
            } else {
                Unmanaged<PollWaiter>.fromOpaque(me).release()
                let e = entries.removeLast()
                pthread_mutex_unlock(m)
                e.answer(.failure(OwdError.internal("cannot start the thread that waits for PollCommands")))
                return
            }
        }
        pthread_cond_signal(c)
        pthread_mutex_unlock(m)
        // A commit between the poll's first look and now may hold its commands: the
        // thread looks again now rather than at its next periodic look.
        if engine.commits.generation != poll.generation { engine.commits.nudge() }
    }

    /// Answers every waiting poll (empty) and ends the thread; later polls are answered
    /// at once. Returns when every poll has been answered.
    public func stop() {
        pthread_mutex_lock(m)
        stopping = true
        let t = thread
        thread = nil
        pthread_cond_signal(c)
        pthread_mutex_unlock(m)
        engine.commits.nudge()
        if let t { pthread_join(t, nil) }
    }

    private func run() {
        pthread_mutex_lock(m)
        while true {
            if stopping {
                let left = entries
                entries = []
                pthread_mutex_unlock(m)
                for e in left { e.answer(Result { try e.poll.text([]) }) }
                return
            }
            if entries.isEmpty {
                pthread_cond_wait(c, m)
                continue
            }
            let polls = entries
            pthread_mutex_unlock(m)

            let generation = engine.commits.generation
            var done: [(Entry, Result<UnsafeMutablePointer<CChar>, Error>)] = []
            var found = Set<ObjectIdentifier>()
            do {
                let seen = try engine.storeVersion()
                let stale = polls.filter { $0.poll.version != seen }
                if !stale.isEmpty {
                    try engine.read { c in
                        for e in stale {
                            e.poll.version = seen
                            let commands = try e.poll.look(c)
                            if !commands.isEmpty {
                                done.append((e, Result { try e.poll.text(commands) }))
                                found.insert(ObjectIdentifier(e))
                            }
                        }
                    }
                }
            } catch {
                // The store failed (not the polls): each waiting poll gets the failure.
                for e in polls where !found.contains(ObjectIdentifier(e)) {
                    done.append((e, .failure(error)))
                    found.insert(ObjectIdentifier(e))
                }
            }
            let now = monotonicNanoseconds()
            var next = Store.pollCheckNanoseconds
            for e in polls where !found.contains(ObjectIdentifier(e)) {
                if e.poll.deadline <= now {
                    done.append((e, Result { try e.poll.text([]) }))
                    found.insert(ObjectIdentifier(e))
                } else {
                    next = min(next, e.poll.deadline - now)
                }
            }
            if !done.isEmpty {
                pthread_mutex_lock(m)
                entries.removeAll { found.contains(ObjectIdentifier($0)) }
                pthread_mutex_unlock(m)
                for (e, result) in done { e.answer(result) }
            }
            engine.commits.wait(after: generation, nanoseconds: next)
            pthread_mutex_lock(m)
        }
    }
}
