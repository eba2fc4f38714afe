import CSQLite
#if canImport(Glibc)
import Glibc
#endif

public enum Durability: Int32, Sendable {
    /// WAL, synchronous=FULL: survives a power cut.
    case full = 0
    /// WAL, synchronous=NORMAL: survives a process crash; a power cut may lose the last commits.
    case normal = 1
    /// synchronous=OFF: tests only.
    case off = 2
}

public struct StoreOptions {
    /// Unix seconds; nil: the system clock.
    public var clock: (() -> Int64)?
    public var busyTimeoutMs: Int32 = 5000
    public var durability: Durability = .full
    /// Section 14: an instance whose agent was seen and has not polled for this many
    /// seconds is shown `connection_lost` (90; tests make it shorter).
    public var connectionLostAfter: Int64 = 90

    public init(clock: (() -> Int64)? = nil, busyTimeoutMs: Int32 = 5000, durability: Durability = .full,
                connectionLostAfter: Int64 = 90) {
        self.clock = clock
        self.busyTimeoutMs = busyTimeoutMs
        self.durability = durability
        self.connectionLostAfter = connectionLostAfter
    }
}

/// One store: its SQLite connections, the in-memory cache, and the locks. Shared by
/// every handle (`Store`) opened on it with `as`. Its jobs live in their own files:
/// StoreFile.swift (the checks before SQLite opens a file), Schema.swift (the schema and
/// its upgrades), Cache.swift (the cache and how it follows the change sequence) and
/// Transactions.swift (reads, writes, deletions).
final class Engine {
    let path: String?
    /// Every write, and in-memory stores' reads, go through `writer`.
    let writer: Connection
    /// File stores read through their own connection so readers never wait on a
    /// writer's fsync; nil for in-memory stores.
    let reader: Connection?
    let writeLock = Mutex()
    /// Concurrent writers share commits (Transactions.swift).
    let group = GroupCommit()
    let readLock = Mutex()
    /// Reached only under its lock.
    let cache = Locked(Cache())
    let clock: () -> Int64
    let connectionLostAfter: Int64
    /// Every commit of this process signals it (PollCommands waits on it).
    let commits = CommitSignal()
    /// Section 14: the LogUrl of a command with a stored log (set by `owd serve`); nil:
    /// answers give none (in-process callers read logs with GetCommandLog).
    var logURL: (@Sendable (String) -> String)?
    /// The reader's last `PRAGMA data_version` (guarded by `readLock`).
    var dataVersion: Int64 = -1

    init(path: String?, options: StoreOptions) throws {
        guard options.busyTimeoutMs >= 0 else {
            throw OwdError.invalidArgument("busy_timeout_ms must be >= 0")
        }
        self.clock = options.clock ?? { Int64(time(nil)) }
        guard options.connectionLostAfter > 0 else {
            throw OwdError.invalidArgument("connectionLostAfter must be > 0 seconds")
        }
        self.connectionLostAfter = options.connectionLostAfter
        // "" is refused, not taken as in-memory: it is most often an unset variable.
        if path == "" { throw OwdError.invalidArgument("path is empty: name a store file, or pass NULL or \":memory:\" for a private in-memory store") }
        let memory = path == nil || path == ":memory:"
        self.path = memory ? nil : path
        if let uri = path, PGSession.isURI(uri) {
            // Section 15: two sessions, as for a file: reads (the cache's refresh) never
            // wait behind a writer's commit.
            let settings = Engine.postgresSettings(options)
            writer = try Connection(postgres: uri, settings: settings, name: "owd writer")
            try Engine.preparePostgresSchema(writer, uri: uri)
            reader = try Connection(postgres: uri, settings: settings, name: "owd reader")
        } else if let path, !memory {
            try Engine.checkFile(path)
            let hadWAL = access(path + "-wal", F_OK) == 0
            writer = try Connection(path: path, flags: SQLITE_OPEN_READWRITE)
            if sqlite3_db_readonly(writer.db, "main") == 1 {
                throw OwdError.store("cannot open store \(path): the file is read-only")
            }
            do {
                try Engine.configure(writer, options)   // its first statement reads the file
                try Engine.prepareSchema(writer, path: path)
            } catch {
                // Refused (e.g. a newer schema still in the -wal of a process that has the
                // file open): leave the file as found. Closing the last connection would
                // checkpoint commits that are not ours into it.
                if hadWAL { writer.close(checkpoint: false) }
                if case OwdError.store(let message) = error { throw Engine.explain(message, path: path) }
                throw error
            }
            let reader = try Connection(path: path, flags: SQLITE_OPEN_READONLY)
            self.reader = reader
            try Engine.configure(reader, options)
        } else {
            writer = try Connection(path: ":memory:", flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            reader = nil
            try Engine.configure(writer, options)
            try Engine.createSchema(writer)
        }
        try refresh()
    }

    /// The reader closes first: the last connection to close checkpoints the WAL and
    /// deletes the -wal and -shm files, and a read-only connection cannot, so closing the
    /// writer last leaves a cleanly closed store as the one file it claims to be.
    deinit {
        reader?.close()
        writer.close()
    }
}
