import CSQLite

/// A value reachable only under its lock: readers share it, a writer has it alone. The
/// engine's cache lives in one, so no code can touch the cache without holding the lock.
final class Locked<State: AnyObject> {
    private let lock = ReadWriteLock()
    private let state: State

    init(_ state: State) { self.state = state }

    @inline(__always)
    func reading<T>(_ body: (State) throws -> T) rethrows -> T {
        try lock.reading { try body(state) }
    }

    @inline(__always)
    func writing<T>(_ body: (State) throws -> T) rethrows -> T {
        try lock.writing { try body(state) }
    }
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

    func remove(_ r: DeploymentRecord) {
        let i = lowerBound(r.createdAt, r.seq)
        if i < items.count, items[i] === r { items.remove(at: i) }
    }

    func replace(_ old: DeploymentRecord, with r: DeploymentRecord) {
        let i = lowerBound(old.createdAt, old.seq)
        if i < items.count, items[i] === old { items[i] = r } else { insert(r) }
    }
}

/// What the engine keeps in memory: every deployment as an immutable record, its
/// indexes, and the small tables that reads and permission checks consult. Always a
/// prefix of the store's history: everything up to `lastChange`, deletions included.
/// Only reachable through `Locked`.
final class Cache {
    var lastChange: Int64 = 0
    /// A load after a commit failed: the next read must load before answering.
    var stale = false
    var byID: [UUIDKey: DeploymentRecord] = [:]
    let all = DeploymentIndex()
    var byStack: [UUIDKey: DeploymentIndex] = [:]
    var byApp: [UUIDKey: DeploymentIndex] = [:]
    var stacks: [UUIDKey: StackRow] = [:]
    var appStacks: [UUIDKey: UUIDKey] = [:]
    /// caller ARN -> stack -> level
    var permissions: [String: [UUIDKey: Level]] = [:]
    var bytes = 0
    /// Deployments by `DeploymentStatus` raw value, and the running ones (for metrics).
    var statusCounts = [Int](repeating: 0, count: 3)
    var running: Set<Int64> = []

    private func count(_ r: DeploymentRecord, _ delta: Int) {
        statusCounts[Int(r.status.rawValue)] += delta
        if r.status == .running {
            if delta > 0 { running.insert(r.seq) } else { running.remove(r.seq) }
        }
    }

    func apply(_ r: DeploymentRecord) {
        if let old = byID[r.key] {
            guard r.changeSeq > old.changeSeq else { return }
            all.replace(old, with: r)
            byStack[r.stackKey]?.replace(old, with: r)
            if let a = r.appKey { byApp[a]?.replace(old, with: r) }
            bytes += r.size - old.size
            count(old, -1)
        } else {
            all.insert(r)
            index(&byStack, r.stackKey).insert(r)
            if let a = r.appKey { index(&byApp, a).insert(r) }
            bytes += r.size
        }
        count(r, 1)
        byID[r.key] = r
    }

    /// Forgets a deleted record (a tombstone of the change sequence).
    func forget(_ t: Tombstone) {
        switch t.kind {
        case .deployment:
            guard let k = UUIDKey(t.id), let r = byID.removeValue(forKey: k) else { return }
            all.remove(r)
            byStack[r.stackKey]?.remove(r)
            if let a = r.appKey { byApp[a]?.remove(r) }
            bytes -= r.size
            count(r, -1)
        case .stack:
            guard let k = UUIDKey(t.id) else { return }
            stacks[k] = nil
            byStack[k] = nil
            for arn in Array(permissions.keys) { permissions[arn]?[k] = nil }
        case .app:
            guard let k = UUIDKey(t.id) else { return }
            appStacks[k] = nil
            byApp[k] = nil
        case .permission:
            guard let k = UUIDKey(t.id), let arn = t.iamUserArn else { return }
            permissions[arn]?[k] = nil
        case .instance:
            // Instances are read from the store, not cached; their commands and
            // deployments stay (history).
            break
        case .userProfile:
            // Its permissions left with it (their own tombstones); nothing else is cached.
            permissions[t.id] = nil
        }
    }

    private func index(_ map: inout [UUIDKey: DeploymentIndex], _ key: UUIDKey) -> DeploymentIndex {
        if let i = map[key] { return i }
        let i = DeploymentIndex()
        map[key] = i
        return i
    }
}

/// Keeping the cache current.
extension Engine {
    /// Brings the cache up to every commit made before this call, by any connection.
    /// Cheap when nothing changed: one `changeToken` (SQLite: `PRAGMA data_version`;
    /// PostgreSQL: one round trip for the change sequence).
    func sync() throws {
        let stale = cache.reading { $0.stale }
        guard let reader else {
            if stale { _ = try writeLock.locked { try writer.transaction(immediate: false) { try load(writer) } } }
            return
        }
        try readLock.locked {
            let version = try reader.changeToken()
            if version == dataVersion && !stale { return }
            dataVersion = try loadThroughReader(version)
        }
    }

    /// Loads through the reader (under readLock); the change token the cache is now up
    /// to. SQLite: the data_version read before the load's transaction. PostgreSQL: the
    /// change number the load's one statement saw (no transaction: it is one snapshot).
    func loadThroughReader(_ version: Int64? = nil) throws -> Int64 {
        guard let reader else { return -1 }
        if reader.pg != nil { return try load(reader) }
        let version = try version ?? reader.changeToken()
        _ = try reader.transaction(immediate: false) { try load(reader) }
        return version
    }

    /// Loads everything changed since the cache's last change through `c` (inside a read
    /// transaction; on PostgreSQL one statement, a snapshot of its own). Returns the
    /// store's change number the load brought the cache up to.
    @discardableResult
    func load(_ c: Connection) throws -> Int64 {
        let since = cache.reading { $0.lastChange }
        var loaded = Loaded()
        if c.pg != nil {
            try Engine.gatherPostgres(c, since: since, into: &loaded)
        } else {
            loaded.current = try c.scalar("SELECT value FROM meta WHERE key='change_seq'")
            if loaded.current <= since { return loaded.current }
            try Engine.gather(c, since: since, into: &loaded)
        }
        if loaded.current <= since { return loaded.current }
        cache.writing { cache in
            for t in loaded.tombstones { cache.forget(t) }
            for (k, v) in loaded.stacks { cache.stacks[k] = v }
            for (a, s) in loaded.apps { cache.appStacks[a] = s }
            for (arn, s, l) in loaded.permissions { cache.permissions[arn, default: [:]][s] = l }
            for r in loaded.records { cache.apply(r) }
            cache.lastChange = max(cache.lastChange, loaded.current)
            cache.stale = false
        }
        return loaded.current
    }

    /// What one load read, before it reaches the cache.
    struct Loaded {
        var current: Int64 = 0
        var records: [DeploymentRecord] = []
        var stacks: [(UUIDKey, StackRow)] = []
        var apps: [(UUIDKey, UUIDKey)] = []
        var permissions: [(String, UUIDKey, Level)] = []
        var tombstones: [Tombstone] = []

        mutating func stack(_ s: Statement) {
            let id = s.string(0) ?? ""
            if let k = UUIDKey(id) { stacks.append((k, StackRow(id: id, region: s.string(1) ?? ""))) }
        }

        mutating func app(_ s: Statement) {
            if let a = UUIDKey(s.string(0) ?? ""), let st = UUIDKey(s.string(1) ?? "") { apps.append((a, st)) }
        }

        mutating func permission(_ s: Statement) {
            if let st = UUIDKey(s.string(1) ?? ""), let l = Level(name: s.string(2) ?? "") {
                permissions.append((s.string(0) ?? "", st, l))
            }
        }

        mutating func tombstone(_ s: Statement) {
            if let kind = Tombstone.Kind(rawValue: s.string(0) ?? "") {
                tombstones.append(Tombstone(kind: kind, id: s.string(1) ?? "", iamUserArn: s.string(2)))
            }
        }
    }

    /// SQLite: a query per table, inside the caller's read transaction.
    private static func gather(_ c: Connection, since: Int64, into loaded: inout Loaded) throws {
        let s = try c.prepare(Engine.deploymentColumns + " WHERE change_seq > ? ORDER BY change_seq")
        s.bind(1, since)
        defer { s.reset() }
        while try s.step() { loaded.records.append(try Engine.deploymentRecord(s)) }
        let st = try c.prepare("SELECT id, region FROM stacks WHERE change_seq > ?")
        st.bind(1, since)
        defer { st.reset() }
        while try st.step() { loaded.stack(st) }
        let ap = try c.prepare("SELECT id, stack_id FROM apps WHERE change_seq > ?")
        ap.bind(1, since)
        defer { ap.reset() }
        while try ap.step() { loaded.app(ap) }
        let pm = try c.prepare("SELECT iam_user_arn, stack_id, level FROM permissions WHERE change_seq > ?")
        pm.bind(1, since)
        defer { pm.reset() }
        while try pm.step() { loaded.permission(pm) }
        // Deletions since: a deleted row is gone from its table, so whatever the queries
        // above found is newer than any tombstone of the same key. Tombstones go first.
        let tb = try c.prepare("SELECT kind, id, iam_user_arn FROM tombstones WHERE change_seq > ? ORDER BY change_seq")
        tb.bind(1, since)
        defer { tb.reset() }
        while try tb.step() { loaded.tombstone(tb) }
    }

    /// PostgreSQL: the same rows in one statement (one round trip, one snapshot, no
    /// transaction): each table's columns in the positions `deploymentRecord` and the
    /// Loaded readers use, as text (bytea in its hex form, which Statement.blob reads),
    /// its kind in the last column.
    static let postgresLoad: String = {
        let pad = { (n: Int) in String(repeating: ", NULL", count: n) }
        return """
            SELECT value::text\(pad(13)), 0 AS kind, 0 AS ord FROM meta WHERE key='change_seq'
            UNION ALL SELECT seq::text, change_seq::text, created_at::text, completed_at::text, status::text,
                command::text, id, stack_id, app_id, iam_user_arn, comment, custom_json, args::text, instance_ids, 1, change_seq
                FROM deployments WHERE change_seq > ?1
            UNION ALL SELECT id, region\(pad(12)), 2, 0 FROM stacks WHERE change_seq > ?1
            UNION ALL SELECT id, stack_id\(pad(12)), 3, 0 FROM apps WHERE change_seq > ?1
            UNION ALL SELECT iam_user_arn, stack_id, level\(pad(11)), 4, 0 FROM permissions WHERE change_seq > ?1
            UNION ALL SELECT kind, id, iam_user_arn\(pad(11)), 5, change_seq FROM tombstones WHERE change_seq > ?1
            ORDER BY kind, ord
            """
    }()

    private static func gatherPostgres(_ c: Connection, since: Int64, into loaded: inout Loaded) throws {
        let s = try c.prepare(postgresLoad)
        s.bind(1, since)
        defer { s.reset() }
        while try s.step() {
            switch s.int(14) {
            case 0: loaded.current = s.int(0)
            case 1: loaded.records.append(try Engine.deploymentRecord(s))
            case 2: loaded.stack(s)
            case 3: loaded.app(s)
            case 4: loaded.permission(s)
            default: loaded.tombstone(s)
            }
        }
    }

    /// The columns a deployment record is made from, in `deploymentRecord`'s order (the
    /// cache's load, export and import's comparison read deployments through these two).
    static let deploymentColumns = """
        SELECT seq, change_seq, created_at, completed_at, status, command, id, stack_id, app_id,
               iam_user_arn, comment, custom_json, args, instance_ids FROM deployments
        """

    /// The record of the row `s` (selected with `deploymentColumns`) stands on.
    static func deploymentRecord(_ s: Statement) throws -> DeploymentRecord {
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
        row.args = s.blob(12)
        row.instanceIds = s.text(13)
        guard let r = DeploymentRecord.make(row) else { throw OwdError.outOfMemory }
        return r
    }

    /// Loads the cache fully (on open).
    func refresh() throws {
        let c = reader ?? writer
        try (reader == nil ? writeLock : readLock).locked {
            if reader != nil {
                dataVersion = try loadThroughReader()
            } else {
                _ = try c.transaction(immediate: false) { try load(c) }
            }
        }
    }
}
