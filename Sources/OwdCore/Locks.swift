#if canImport(Glibc)
import Glibc
#endif

/// A mutex at a stable address (pthread objects must not move).
final class Mutex {
    fileprivate let m: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        m = .allocate(capacity: 1)
        pthread_mutex_init(m, nil)
    }

    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }

    @inline(__always)
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }

    @inline(__always) func lock() { pthread_mutex_lock(m) }
    @inline(__always) func unlock() { pthread_mutex_unlock(m) }
}

/// A condition variable waited on with a `Mutex` held (one per waiting call: a group
/// commit wakes exactly the calls it carried, not every waiting thread).
final class Condition {
    private let c: UnsafeMutablePointer<pthread_cond_t>

    init() {
        c = .allocate(capacity: 1)
        pthread_cond_init(c, nil)
    }

    deinit {
        pthread_cond_destroy(c)
        c.deallocate()
    }

    /// Releases `mutex` (held by the caller) while waiting; holds it again on return.
    /// Wakes may be spurious: callers wait in a loop on their own condition.
    @inline(__always) func wait(_ mutex: Mutex) { pthread_cond_wait(c, mutex.m) }
    @inline(__always) func signal() { pthread_cond_signal(c) }
}

/// Many readers or one writer; writers are preferred so a stream of readers cannot
/// starve a refresh.
final class ReadWriteLock {
    private let l: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        l = .allocate(capacity: 1)
        var attr = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attr)
        pthread_rwlockattr_setkind_np(&attr, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(l, &attr)
        pthread_rwlockattr_destroy(&attr)
    }

    deinit {
        pthread_rwlock_destroy(l)
        l.deallocate()
    }

    @inline(__always)
    func reading<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(l)
        defer { pthread_rwlock_unlock(l) }
        return try body()
    }

    @inline(__always)
    func writing<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(l)
        defer { pthread_rwlock_unlock(l) }
        return try body()
    }
}

/// "A write committed", for the waits of the agent protocol (PollCommands' long-poll):
/// a counter that every commit of this process bumps, and a condition its waiters sleep on.
/// Commits of other processes are seen by the waiters' own periodic check of the store.
final class CommitSignal {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    private let c: UnsafeMutablePointer<pthread_cond_t>
    private var count: UInt64 = 0

    init() {
        m = .allocate(capacity: 1)
        c = .allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(c, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(c)
        pthread_mutex_destroy(m)
        c.deallocate()
        m.deallocate()
    }

    /// The number of commits so far.
    var generation: UInt64 {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return count
    }

    func committed() {
        pthread_mutex_lock(m)
        count &+= 1
        pthread_cond_broadcast(c)
        pthread_mutex_unlock(m)
    }

    /// Wakes the waits as a commit does, for a new look at the store (PollWaiter: a poll
    /// that arrived after its thread last looked).
    func nudge() { committed() }

    /// Sleeps until a commit after `generation`, or `nanoseconds` have passed (monotonic).
    func wait(after generation: UInt64, nanoseconds: Int64) {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let total = Int64(deadline.tv_nsec) + nanoseconds
        deadline.tv_sec += Int(total / 1_000_000_000)
        deadline.tv_nsec = Int(total % 1_000_000_000)
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        while count == generation {
            if pthread_cond_timedwait(c, m, &deadline) != 0 { return }
        }
    }
}

/// The monotonic clock in nanoseconds (waits and deadlines; never a stored time).
func monotonicNanoseconds() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}
