import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// A thin wrapper over one store connection: SQLite's, or PostgreSQL's (`pg`, see
/// Postgres.swift), behind one API so that every handler's SQL runs on both. Not
/// thread-safe: the engine serialises each connection behind its own lock.
final class Connection {
    /// SQLite's handle; nil for a PostgreSQL connection.
    let db: OpaquePointer!
    let pg: PGSession?
    private var statements: [String: Statement] = [:]

    init(path: String, flags: Int32) throws {
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(handle)
            throw Connection.error(rc, "cannot open store \(path): \(message)")
        }
        db = handle
        pg = nil
        sqlite3_extended_result_codes(db, 1)
    }

    /// A PostgreSQL connection; `settings` run after every (re)connect.
    init(postgres uri: String, settings: String, name: String = "owd") throws {
        pg = try PGSession(uri: uri, settings: settings, name: name)
        db = nil
    }

    private var closed = false

    deinit { close() }

    /// Finalizes every cached statement and closes the connection; later calls do nothing.
    /// `checkpoint: false` leaves the WAL as it is even when this is the last connection.
    func close(checkpoint: Bool = true) {
        if closed { return }
        closed = true
        if !checkpoint { _ = csqlite_no_checkpoint_on_close(db) }
        for s in statements.values { s.finalize() }
        statements = [:]
        if let pg { pg.close() } else { sqlite3_close_v2(db) }
    }

    static func error(_ rc: Int32, _ message: String) -> OwdError {
        switch rc & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED:
            return .busy("the store is busy (another writer held it past the busy timeout); nothing was changed, try again: \(message)")
        case SQLITE_NOMEM:
            return .outOfMemory
        case SQLITE_FULL:
            return .store("the disk is full: \(message)")
        case SQLITE_NOTADB:
            return .store("not an owd store: \(message)")
        case SQLITE_CORRUPT:
            return .store("the store is corrupt: \(message)")
        case SQLITE_READONLY:
            return .store("the store is read-only: \(message)")
        case SQLITE_CANTOPEN:
            return .store(message)
        default:
            return .store(message)
        }
    }

    func fail(_ rc: Int32) -> OwdError {
        Connection.error(rc, String(cString: sqlite3_errmsg(db)))
    }

    /// Runs SQL text (several statements; schema text is translated for PostgreSQL).
    func exec(_ sql: String) throws {
        if let pg { return try pg.exec(Dialect.postgresDDL(sql)) }
        let rc = sqlite3_exec(db, sql, nil, nil, nil)
        if rc != SQLITE_OK { throw fail(rc) }
    }

    /// A cached prepared statement, reset and with bindings cleared.
    func prepare(_ sql: String) throws -> Statement {
        if let s = statements[sql] {
            return s
        }
        if let pg {
            let s = Statement(PGStatement(session: pg, sql: Dialect.postgres(sql)), connection: self)
            statements[sql] = s
            return s
        }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw fail(rc) }
        let s = Statement(stmt, connection: self)
        statements[sql] = s
        return s
    }

    /// Runs `body` in a transaction. IMMEDIATE takes the write lock up front (waiting up
    /// to the busy timeout) so a write never fails half-way on a lock upgrade.
    /// `lock: false` (PostgreSQL): a write transaction without the write lock, for making
    /// the schema (meta does not exist yet; an advisory lock serialises that instead).
    func transaction<T>(immediate: Bool, lock: Bool = true, _ body: () throws -> T) throws -> T {
        try begin(immediate: immediate, lock: lock)
        do {
            let result = try body()
            try commit()
            return result
        } catch {
            rollback()
            throw error
        }
    }

    /// BEGIN (IMMEDIATE: with the store's write lock). On PostgreSQL a write transaction
    /// is READ COMMITTED holding the row lock of meta's change_seq: writers take turns on
    /// it exactly as on SQLite's write lock, and since each statement of a READ COMMITTED
    /// transaction reads a fresh snapshot, everything a writer reads after the lock was
    /// committed before it (REPEATABLE READ would have taken its snapshot before waiting,
    /// and failed instead). A read transaction is REPEATABLE READ: one snapshot.
    func begin(immediate: Bool, lock: Bool = true) throws {
        if let pg {
            if pg.inTransaction { rollback() }
            pg.endScope()
            if immediate && lock {
                // One round trip: BEGIN and the lock, which reads the change number.
                do {
                    _ = try pg.ready()   // reconnects a connection known to be lost
                    pg.scope = true
                    pg.lockedChange = try pg.execValue("BEGIN ISOLATION LEVEL READ COMMITTED; " + Connection.writeLock)
                } catch {
                    rollback()
                    throw error
                }
                return
            }
            try prepare(immediate ? "BEGIN ISOLATION LEVEL READ COMMITTED" : "BEGIN ISOLATION LEVEL REPEATABLE READ").run()
            pg.scope = true
            return
        }
        // Prepared once: a read that refreshes the cache runs a transaction every call.
        try prepare(immediate ? "BEGIN IMMEDIATE" : "BEGIN").run()
    }

    /// PostgreSQL's write lock: the meta row every write updates.
    static let writeLock = "SELECT value FROM meta WHERE key='change_seq' FOR UPDATE"

    func commit() throws {
        if let pg {
            pg.committing = true
            defer { pg.endScope() }
            try prepare("COMMIT").run()
            return
        }
        try prepare("COMMIT").run()
    }

    /// Rolls back the open transaction, if any; never fails (a lost connection has none).
    func rollback() {
        if let pg {
            if pg.inTransaction { try? pg.exec("ROLLBACK") }
            pg.endScope()
            return
        }
        if sqlite3_get_autocommit(db) == 0 { _ = sqlite3_exec(db, "ROLLBACK", nil, nil, nil) }
    }

    /// Inside a transaction (false after an error that ended it, such as a full disk on
    /// SQLite, or a lost connection).
    var inTransaction: Bool {
        if let pg { return pg.inTransaction }
        return sqlite3_get_autocommit(db) == 0
    }

    /// The connection was lost inside the current transaction (PostgreSQL).
    var lost: Bool { pg?.lost ?? false }

    /// Rows changed by the last INSERT, UPDATE or DELETE run on this connection.
    var changes: Int {
        if let pg { return pg.lastChanges }
        return Int(sqlite3_changes(db))
    }

    /// A number that changes when any connection, of this process or another, commits:
    /// SQLite's data_version; on PostgreSQL the change sequence itself (one round trip,
    /// outside any transaction, so it sees every commit acknowledged before it).
    func changeToken() throws -> Int64 {
        if pg != nil { return try scalar("SELECT value FROM meta WHERE key='change_seq'") }
        return try scalar("PRAGMA data_version")
    }

    /// The schema version the store records (SQLite: user_version; PostgreSQL: meta).
    func schemaVersion() throws -> Int32 {
        Int32(truncatingIfNeeded: try scalar(pg != nil ? "SELECT value FROM meta WHERE key='schema_version'" : "PRAGMA user_version"))
    }

    func setSchemaVersion(_ v: Int32) throws {
        if pg != nil {
            try prepare("UPDATE meta SET value=? WHERE key='schema_version'").bind(1, Int64(v)).run()
        } else {
            try exec("PRAGMA user_version=\(v)")
        }
    }

    func scalar(_ sql: String) throws -> Int64 {
        let s = try prepare(sql)
        defer { s.reset() }
        guard try s.step() else { return 0 }
        return s.int(0)
    }
}

final class Statement {
    /// SQLite's statement; nil for PostgreSQL's (`pg`).
    let stmt: OpaquePointer!
    let pg: PGStatement?
    unowned let connection: Connection

    init(_ stmt: OpaquePointer, connection: Connection) {
        self.stmt = stmt
        self.pg = nil
        self.connection = connection
    }

    init(_ pg: PGStatement, connection: Connection) {
        self.stmt = nil
        self.pg = pg
        self.connection = connection
    }

    func finalize() {
        if let pg { pg.reset() } else { sqlite3_finalize(stmt) }
    }

    func reset() {
        if let pg { return pg.reset() }
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    @discardableResult
    func bind(_ index: Int32, _ value: Int64?) -> Statement {
        if let pg { pg.bind(index, value); return self }
        if let value { sqlite3_bind_int64(stmt, index, value) } else { sqlite3_bind_null(stmt, index) }
        return self
    }

    @discardableResult
    func bind(_ index: Int32, _ value: String?) -> Statement {
        if let pg { pg.bind(index, value); return self }
        if let value {
            sqlite3_bind_text(stmt, index, value, -1, csqlite_transient())
        } else {
            sqlite3_bind_null(stmt, index)
        }
        return self
    }

    /// Binds bytes (a BLOB; an empty one is a zero-length blob, not NULL).
    @discardableResult
    func bind(_ index: Int32, bytes: UnsafeRawBufferPointer) -> Statement {
        if let pg { pg.bind(index, bytes: bytes); return self }
        sqlite3_bind_blob(stmt, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), csqlite_transient())
        return self
    }

    /// Steps once: true for a row, false when done.
    func step() throws -> Bool {
        if let pg { return try pg.step() }
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let error = connection.fail(rc)
        sqlite3_reset(stmt)
        throw error
    }

    /// Runs a statement that returns no rows, then resets it.
    func run() throws {
        defer { reset() }
        _ = try step()
    }

    func int(_ column: Int32) -> Int64 {
        if let pg { return pg.int(column) }
        return sqlite3_column_int64(stmt, column)
    }

    func isNull(_ column: Int32) -> Bool {
        if let pg { return pg.isNull(column) }
        return sqlite3_column_type(stmt, column) == SQLITE_NULL
    }

    func optionalInt(_ column: Int32) -> Int64? { isNull(column) ? nil : int(column) }

    func string(_ column: Int32) -> String? {
        guard let t = text(column) else { return nil }
        return String(decoding: t, as: UTF8.self)
    }

    /// The column's bytes without a copy; valid until the next step or reset.
    func text(_ column: Int32) -> UnsafeBufferPointer<UInt8>? {
        if let pg { return pg.text(column) }
        guard let p = sqlite3_column_text(stmt, column) else { return nil }
        return UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, column)))
    }

    /// A BLOB column's bytes without a copy; valid until the next step or reset.
    func blob(_ column: Int32) -> UnsafeBufferPointer<UInt8>? {
        if let pg { return pg.blob(column) }
        guard let p = sqlite3_column_blob(stmt, column) else { return nil }
        let n = Int(sqlite3_column_bytes(stmt, column))
        return UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: n)
    }
}
