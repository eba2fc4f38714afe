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

    public init(clock: (() -> Int64)? = nil, busyTimeoutMs: Int32 = 5000, durability: Durability = .full) {
        self.clock = clock
        self.busyTimeoutMs = busyTimeoutMs
        self.durability = durability
    }
}

/// The permission levels of section 7, weakest first.
enum Level: Int, Comparable {
    case deny = 0, iamOnly, show, deploy, manage

    init?(name: String) {
        switch name {
        case "deny": self = .deny
        case "iam_only": self = .iamOnly
        case "show": self = .show
        case "deploy": self = .deploy
        case "manage": self = .manage
        default: return nil
        }
    }

    var name: String {
        switch self {
        case .deny: return "deny"
        case .iamOnly: return "iam_only"
        case .show: return "show"
        case .deploy: return "deploy"
        case .manage: return "manage"
        }
    }

    static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
}

struct StackInfo {
    let id: String
    let region: String
}

/// Deployments in the contract's order, kept oldest first (new ones append): a walk
/// backwards answers newest first.
final class DeploymentIndex {
    var items: ContiguousArray<DeploymentRecord> = []

    @inline(__always)
    static func before(_ a: DeploymentRecord, _ createdAt: Int64, _ seq: Int64) -> Bool {
        a.createdAt < createdAt || (a.createdAt == createdAt && a.seq < seq)
    }

    /// The first position not before (createdAt, seq).
    func lowerBound(_ createdAt: Int64, _ seq: Int64) -> Int {
        var lo = 0, hi = items.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if DeploymentIndex.before(items[mid], createdAt, seq) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func insert(_ r: DeploymentRecord) {
        if let last = items.last, !DeploymentIndex.before(last, r.createdAt, r.seq) {
            items.insert(r, at: lowerBound(r.createdAt, r.seq))
        } else {
            items.append(r)
        }
    }

    func replace(_ old: DeploymentRecord, with r: DeploymentRecord) {
        let i = lowerBound(old.createdAt, old.seq)
        if i < items.count, items[i] === old { items[i] = r } else { insert(r) }
    }
}

/// What the engine keeps in memory: every deployment as an immutable record, its
/// indexes, and the small tables that reads and permission checks consult. Always a
/// prefix of the store's history: everything up to `lastChange`.
final class Cache {
    var lastChange: Int64 = 0
    /// A load after a commit failed: the next read must load before answering.
    var stale = false
    var byID: [UUIDKey: DeploymentRecord] = [:]
    let all = DeploymentIndex()
    var byStack: [UUIDKey: DeploymentIndex] = [:]
    var byApp: [UUIDKey: DeploymentIndex] = [:]
    var stacks: [UUIDKey: StackInfo] = [:]
    var appStacks: [UUIDKey: UUIDKey] = [:]
    /// caller ARN -> stack -> level
    var permissions: [String: [UUIDKey: Level]] = [:]
    var bytes = 0

    func apply(_ r: DeploymentRecord) {
        if let old = byID[r.key] {
            guard r.changeSeq > old.changeSeq else { return }
            all.replace(old, with: r)
            byStack[r.stackKey]?.replace(old, with: r)
            if let a = r.appKey { byApp[a]?.replace(old, with: r) }
            bytes += r.size - old.size
        } else {
            all.insert(r)
            index(&byStack, r.stackKey).insert(r)
            if let a = r.appKey { index(&byApp, a).insert(r) }
            bytes += r.size
        }
        byID[r.key] = r
    }

    private func index(_ map: inout [UUIDKey: DeploymentIndex], _ key: UUIDKey) -> DeploymentIndex {
        if let i = map[key] { return i }
        let i = DeploymentIndex()
        map[key] = i
        return i
    }
}

/// One store: its SQLite connections, the in-memory cache, and the locks. Shared by
/// every handle (`Store`) opened on it with `as`.
final class Engine {
    static let applicationID: Int32 = 0x6F77_6431   // "owd1"
    /// 1: the first schema. 2: app versions (rollback) and the app version a deployment
    /// deployed. 3: stacks and apps indexed by change, so a cache refresh never scans them.
    static let schemaVersion: Int32 = 3

    let path: String?
    /// Every write, and in-memory stores' reads, go through `writer`.
    let writer: Connection
    /// File stores read through their own connection so readers never wait on a
    /// writer's fsync; nil for in-memory stores.
    let reader: Connection?
    let writeLock = Mutex()
    let readLock = Mutex()
    let cacheLock = ReadWriteLock()
    let cache = Cache()
    let clock: () -> Int64
    private var dataVersion: Int64 = -1

    init(path: String?, options: StoreOptions) throws {
        guard options.busyTimeoutMs >= 0 else {
            throw OwdError.invalidArgument("busy_timeout_ms must be >= 0")
        }
        self.clock = options.clock ?? { Int64(time(nil)) }
        // "" is refused, not taken as in-memory: it is most often an unset variable.
        if path == "" { throw OwdError.invalidArgument("path is empty: name a store file, or pass NULL or \":memory:\" for a private in-memory store") }
        let memory = path == nil || path == ":memory:"
        self.path = memory ? nil : path
        if memory {
            writer = try Connection(path: ":memory:", flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            reader = nil
            try Engine.configure(writer, options)
            try Engine.createSchema(writer)
        } else {
            let path = path!
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
            reader = try Connection(path: path, flags: SQLITE_OPEN_READONLY)
            try Engine.configure(reader!, options)
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

    // MARK: Opening

    /// Creates a missing file with mode 0600 (CustomJson may hold secrets), and refuses a
    /// file that is not SQLite before SQLite touches it.
    static func checkFile(_ path: String) throws {
        // O_EXCL first, to know whether this call made the file: the directory entry of a
        // new file is synced, or a power cut could lose the whole store (SQLite syncs the
        // directory when it creates the -wal file, never for the database file itself).
        var fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            let dir = open(directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dir >= 0 { _ = fsync(dir); close(dir) }
        } else if errno == EEXIST {
            fd = open(path, O_RDONLY | O_CLOEXEC)
        }
        if fd < 0 {
            let reason = String(cString: strerror(errno))
            let verb = access(path, F_OK) == 0 ? "open" : "create"
            throw OwdError.store("cannot \(verb) store \(path): \(reason)")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw OwdError.store("cannot open store \(path): fstat failed") }
        if (st.st_mode & S_IFMT) != S_IFREG {
            throw OwdError.store("cannot open store \(path): not a regular file")
        }
        if st.st_size == 0 { return }   // an existing empty file is a new store
        // The 100-byte database header and the start of page 1's b-tree header.
        var header = [UInt8](repeating: 0, count: 108)
        let n = Glibc.read(fd, &header, 108)
        let magic = Array("SQLite format 3\0".utf8)
        guard n >= 16, Array(header[0..<16]) == magic else {
            throw OwdError.store("cannot open store \(path): not an owd store (not an SQLite database)")
        }
        guard n == 108 else {
            throw OwdError.store("cannot open store \(path): the file is truncated (\(st.st_size) bytes, shorter than an SQLite header)")
        }
        func be32(_ at: Int) -> UInt32 {
            UInt32(header[at]) << 24 | UInt32(header[at + 1]) << 16 | UInt32(header[at + 2]) << 8 | UInt32(header[at + 3])
        }
        var pageSize = Int(header[16]) << 8 | Int(header[17])
        if pageSize == 1 { pageSize = 65_536 }
        if pageSize < 512 || Int(st.st_size) % pageSize != 0 {
            throw OwdError.store("cannot open store \(path): the file is truncated or corrupt (\(st.st_size) bytes is not a whole number of \(pageSize)-byte pages)")
        }
        // The page count in the header is valid when its change counter matches the
        // version-valid-for number. A file shorter than that count was cut, unless a -wal
        // file holds frames (a checkpoint interrupted by a crash: SQLite finishes it).
        let headerPages = Int(be32(28))
        if headerPages > 0, be32(24) == be32(92), headerPages * pageSize > Int(st.st_size) {
            var wal = stat()
            if stat(path + "-wal", &wal) != 0 || wal.st_size <= 32 {
                throw OwdError.store("cannot open store \(path): the file is truncated (\(st.st_size) bytes; its header counts \(headerPages) pages of \(pageSize) bytes)")
            }
        }
        let appID = Int32(bitPattern: be32(68))
        let version = Int32(bitPattern: be32(60))
        // 0 with an empty schema in the file (page 1 is a table leaf with no cells) and no
        // user_version: an empty database, or a new store whose every commit still sits in
        // its -wal file (`journal_mode=WAL` writes this bare page 1; nothing else reaches
        // the file before the first checkpoint). prepareSchema reads it through the WAL and
        // tells them apart. 0 with anything in the file is another program's database:
        // refused here, before SQLite (which would switch it to WAL) touches it.
        let emptySchema = header[100] == 0x0D && header[103] == 0 && header[104] == 0 && version == 0
        if appID != applicationID && !(appID == 0 && emptySchema) {
            let what = appID == 0 ? "an SQLite database of another program" : "SQLite application_id \(appID)"
            throw OwdError.store("cannot open store \(path): not an owd store (\(what))")
        }
        if version > schemaVersion {
            throw OwdError.store("cannot open store \(path): its schema version \(version) is newer than this library's (\(schemaVersion)); upgrade libowd")
        }
    }

    /// SQLite reports a store in a read-only directory as a read-only or unopenable
    /// database: name the directory, which is what the caller must fix.
    static func explain(_ message: String, path: String) -> OwdError {
        let dir = directory(of: path)
        guard access(dir, W_OK) != 0 else { return .store(message) }
        return .store("cannot open store \(path): its directory \(dir) is not writable, and SQLite must create \(path)-wal and \(path)-shm beside it (\(message))")
    }

    static func directory(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[..<$0].isEmpty ? "/" : path[..<$0]) } ?? "."
    }

    static func configure(_ c: Connection, _ options: StoreOptions) throws {
        sqlite3_busy_timeout(c.db, options.busyTimeoutMs)
        let sync: String
        switch options.durability {
        case .full: sync = "FULL"
        case .normal: sync = "NORMAL"
        case .off: sync = "OFF"
        }
        try c.exec("PRAGMA synchronous=\(sync); PRAGMA cache_size=-16000; PRAGMA temp_store=MEMORY")
    }

    static func prepareSchema(_ c: Connection, path: String) throws {
        let appID = Int32(truncatingIfNeeded: try c.scalar("PRAGMA application_id"))
        if appID == 0 {
            // An empty file (checkFile refused any other SQLite file): make it a store,
            // unless another process made it one meanwhile (createSchema checks again).
            try useWAL(c, path: path)
            try createSchema(c, path: path)
            return try prepareSchema(c, path: path)
        }
        if appID != applicationID {
            throw OwdError.store("cannot open store \(path): not an owd store (SQLite application_id \(appID))")
        }
        let version = Int32(truncatingIfNeeded: try c.scalar("PRAGMA user_version"))
        if version > schemaVersion {
            throw OwdError.store("cannot open store \(path): its schema version \(version) is newer than this library's (\(schemaVersion)); upgrade libowd")
        }
        // A store written in another journal mode (an older owd, a copy made by a tool)
        // becomes WAL: the separate reader connection and other processes rely on it.
        // A no-op (no lock, no write) when the store is WAL already.
        try useWAL(c, path: path)
        if version < schemaVersion {
            try upgrade(c, from: version)
        }
        _ = try c.scalar("SELECT count(*) FROM meta")   // a readable store, or a clear error now
    }

    static func useWAL(_ c: Connection, path: String) throws {
        let mode = try c.prepare("PRAGMA journal_mode=WAL")
        let wal = try mode.step() && mode.string(0) == "wal"
        mode.reset()
        guard wal else { throw OwdError.store("cannot open store \(path): WAL mode is not available") }
    }

    /// Schema version 1, as the first owd wrote it; later versions are the steps of `upgrades`.
    static let schema = """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO meta VALUES('change_seq', 0);
        CREATE TABLE stacks(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, region TEXT NOT NULL,
            created_at INTEGER NOT NULL, body TEXT NOT NULL, change_seq INTEGER NOT NULL);
        CREATE TABLE layers(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,
            created_at INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX layers_stack ON layers(stack_id, seq);
        CREATE TABLE apps(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,
            created_at INTEGER NOT NULL, body TEXT NOT NULL, change_seq INTEGER NOT NULL);
        CREATE INDEX apps_stack ON apps(stack_id, seq);
        CREATE TABLE instances(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,
            created_at INTEGER NOT NULL, status TEXT NOT NULL, layer_ids TEXT NOT NULL, os TEXT,
            body TEXT NOT NULL);
        CREATE INDEX instances_stack ON instances(stack_id, seq);
        CREATE TABLE deployments(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,
            app_id TEXT, created_at INTEGER NOT NULL, completed_at INTEGER, status INTEGER NOT NULL,
            command INTEGER NOT NULL, args BLOB NOT NULL, instance_ids TEXT NOT NULL, iam_user_arn TEXT,
            comment TEXT, custom_json TEXT, pending INTEGER NOT NULL, change_seq INTEGER NOT NULL);
        CREATE INDEX deployments_change ON deployments(change_seq);
        CREATE TABLE commands(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, deployment_seq INTEGER NOT NULL,
            deployment_id TEXT NOT NULL, stack_id TEXT NOT NULL, instance_id TEXT NOT NULL,
            created_at INTEGER NOT NULL, acknowledged_at INTEGER, completed_at INTEGER, status TEXT NOT NULL,
            exit_code INTEGER, log_url TEXT, type TEXT NOT NULL);
        CREATE INDEX commands_deployment ON commands(deployment_seq, seq);
        CREATE INDEX commands_instance ON commands(instance_id, deployment_seq);
        CREATE TABLE user_profiles(seq INTEGER PRIMARY KEY, iam_user_arn TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
        CREATE TABLE permissions(seq INTEGER PRIMARY KEY, stack_id TEXT NOT NULL, iam_user_arn TEXT NOT NULL,
            level TEXT NOT NULL, allow_ssh INTEGER NOT NULL, allow_sudo INTEGER NOT NULL,
            change_seq INTEGER NOT NULL, UNIQUE(stack_id, iam_user_arn));
        CREATE INDEX permissions_change ON permissions(change_seq);
        """

    /// A new store: version 1, then every upgrade step, so that the upgrade path is the
    /// one every store takes.
    static func createSchema(_ c: Connection, path: String = ":memory:") throws {
        try c.transaction(immediate: true) {
            // Several processes may open the same new file at once: each saw it empty, and
            // the first to take the write lock makes the store; the others only upgrade.
            if try c.scalar("PRAGMA application_id") != 0 { return }
            if try c.scalar("SELECT count(*) FROM sqlite_master") != 0 {
                throw OwdError.store("cannot open store \(path): not an owd store (an SQLite database of another program)")
            }
            try c.exec(schema)
            try c.exec("PRAGMA application_id=\(applicationID); PRAGMA user_version=1")
        }
        try upgrade(c, from: 1)
    }

    /// The steps from version N to N + 1.
    static let upgrades: [Int32: String] = [
        1: """
            CREATE TABLE app_versions(app_id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
                PRIMARY KEY(app_id, version)) WITHOUT ROWID;
            INSERT INTO app_versions SELECT id, 1, body FROM apps;
            ALTER TABLE deployments ADD COLUMN app_version INTEGER;
            """,
        2: """
            CREATE INDEX stacks_change ON stacks(change_seq);
            CREATE INDEX apps_change ON apps(change_seq);
            """,
    ]

    /// Upgrades an older store in one transaction. Another process may be upgrading it at
    /// the same moment: the version is read again under the write lock.
    static func upgrade(_ c: Connection, from version: Int32) throws {
        try c.transaction(immediate: true) {
            var v = max(version, Int32(truncatingIfNeeded: try c.scalar("PRAGMA user_version")))
            while v < schemaVersion {
                guard let step = upgrades[v] else {
                    throw OwdError.store("the store's schema version \(v) is unknown to this library")
                }
                try c.exec(step)
                v += 1
            }
            try c.exec("PRAGMA user_version=\(schemaVersion)")
        }
    }

    // MARK: Keeping the cache current

    /// Brings the cache up to every commit made before this call, by any connection.
    /// Cheap when nothing changed: one `PRAGMA data_version`.
    func sync() throws {
        let stale = cacheLock.reading { cache.stale }
        guard let reader else {
            if stale { try writeLock.locked { try writer.transaction(immediate: false) { try load(writer) } } }
            return
        }
        try readLock.locked {
            let version = try reader.scalar("PRAGMA data_version")
            if version == dataVersion && !stale { return }
            try reader.transaction(immediate: false) { try load(reader) }
            dataVersion = version
        }
    }

    /// Loads everything changed since the cache's last change through `c`.
    private func load(_ c: Connection) throws {
        let since = cacheLock.reading { cache.lastChange }
        let current = try c.scalar("SELECT value FROM meta WHERE key='change_seq'")
        if current <= since { return }
        var records: [DeploymentRecord] = []
        let s = try c.prepare("""
            SELECT seq, change_seq, created_at, completed_at, status, command, id, stack_id, app_id,
                   iam_user_arn, comment, custom_json, args, instance_ids
            FROM deployments WHERE change_seq > ? ORDER BY change_seq
            """)
        s.bind(1, since)
        defer { s.reset() }
        while try s.step() {
            var row = DeploymentRow()
            row.seq = s.int(0)
            row.changeSeq = s.int(1)
            row.createdAt = s.int(2)
            row.completedAt = s.optionalInt(3)
            row.status = DeploymentStatus(rawValue: UInt8(truncatingIfNeeded: s.int(4))) ?? .running
            row.command = CommandName(rawValue: UInt8(truncatingIfNeeded: s.int(5))) ?? .deploy
            row.id = s.text(6)
            row.stackId = s.text(7)
            row.appId = s.text(8)
            row.iamUserArn = s.text(9)
            row.comment = s.text(10)
            row.customJson = s.text(11)
            row.args = blob(s, 12)
            row.instanceIds = s.text(13)
            guard let r = DeploymentRecord.make(row) else { throw OwdError.outOfMemory }
            records.append(r)
        }
        var stacks: [(UUIDKey, StackInfo)] = []
        let st = try c.prepare("SELECT id, region FROM stacks WHERE change_seq > ?")
        st.bind(1, since)
        defer { st.reset() }
        while try st.step() {
            let id = st.string(0) ?? ""
            if let k = UUIDKey(id) { stacks.append((k, StackInfo(id: id, region: st.string(1) ?? ""))) }
        }
        var apps: [(UUIDKey, UUIDKey)] = []
        let ap = try c.prepare("SELECT id, stack_id FROM apps WHERE change_seq > ?")
        ap.bind(1, since)
        defer { ap.reset() }
        while try ap.step() {
            if let a = UUIDKey(ap.string(0) ?? ""), let s = UUIDKey(ap.string(1) ?? "") { apps.append((a, s)) }
        }
        var permissions: [(String, UUIDKey, Level)] = []
        let pm = try c.prepare("SELECT iam_user_arn, stack_id, level FROM permissions WHERE change_seq > ?")
        pm.bind(1, since)
        defer { pm.reset() }
        while try pm.step() {
            if let s = UUIDKey(pm.string(1) ?? ""), let l = Level(name: pm.string(2) ?? "") {
                permissions.append((pm.string(0) ?? "", s, l))
            }
        }
        cacheLock.writing {
            for (k, v) in stacks { cache.stacks[k] = v }
            for (a, s) in apps { cache.appStacks[a] = s }
            for (arn, s, l) in permissions { cache.permissions[arn, default: [:]][s] = l }
            for r in records { cache.apply(r) }
            cache.lastChange = max(cache.lastChange, current)
            cache.stale = false
        }
    }

    private func blob(_ s: Statement, _ column: Int32) -> UnsafeBufferPointer<UInt8>? {
        guard let p = sqlite3_column_blob(s.stmt, column) else { return nil }
        let n = Int(sqlite3_column_bytes(s.stmt, column))
        return UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: n)
    }

    /// Loads the cache fully (on open).
    func refresh() throws {
        let c = reader ?? writer
        try (reader == nil ? writeLock : readLock).locked {
            try c.transaction(immediate: false) { try load(c) }
            if reader != nil { dataVersion = try c.scalar("PRAGMA data_version") }
        }
    }

    // MARK: Transactions

    /// Runs `body` as one write transaction, then brings the cache up to it before the
    /// call returns, so every later call, on any thread, sees the change.
    func write<T>(_ body: (Connection, Int64) throws -> T) throws -> T {
        try writeLock.locked {
            let result = try writer.transaction(immediate: true) { () -> T in
                let change = try writer.scalar("SELECT value FROM meta WHERE key='change_seq'") + 1
                let result = try body(writer, change)
                let bump = try writer.prepare("UPDATE meta SET value=? WHERE key='change_seq'")
                bump.bind(1, change)
                try bump.run()
                return result
            }
            // The change is committed: the call succeeded, whatever happens next. Should
            // the cache fail to follow (memory ran out), the next read reloads it.
            do {
                try writer.transaction(immediate: false) { try load(writer) }
            } catch {
                cacheLock.writing { cache.stale = true }
            }
            return result
        }
    }

    /// Runs `body` with a connection for reading (a read transaction: one snapshot).
    func read<T>(_ body: (Connection) throws -> T) throws -> T {
        if let reader {
            return try readLock.locked { try reader.transaction(immediate: false) { try body(reader) } }
        }
        return try writeLock.locked { try writer.transaction(immediate: false) { try body(writer) } }
    }

    /// The caller's level on a stack (the embedding program, nil, may do everything).
    func level(_ caller: String?, _ stack: UUIDKey) -> Level {
        guard let caller else { return .manage }
        return cacheLock.reading { cache.permissions[caller]?[stack] } ?? .deny
    }
}
