import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// A thin wrapper over one SQLite connection. Not thread-safe: the engine serialises
/// each connection behind its own lock.
final class Connection {
    let db: OpaquePointer
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
        sqlite3_extended_result_codes(db, 1)
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
        sqlite3_close_v2(db)
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

    func exec(_ sql: String) throws {
        let rc = sqlite3_exec(db, sql, nil, nil, nil)
        if rc != SQLITE_OK { throw fail(rc) }
    }

    /// A cached prepared statement, reset and with bindings cleared.
    func prepare(_ sql: String) throws -> Statement {
        if let s = statements[sql] {
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
    func transaction<T>(immediate: Bool, _ body: () throws -> T) throws -> T {
        // Prepared once: a read that refreshes the cache runs a transaction every call.
        try prepare(immediate ? "BEGIN IMMEDIATE" : "BEGIN").run()
        do {
            let result = try body()
            try prepare("COMMIT").run()
            return result
        } catch {
            _ = sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            throw error
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
    let stmt: OpaquePointer
    unowned let connection: Connection

    init(_ stmt: OpaquePointer, connection: Connection) {
        self.stmt = stmt
        self.connection = connection
    }

    func finalize() { sqlite3_finalize(stmt) }

    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    @discardableResult
    func bind(_ index: Int32, _ value: Int64?) -> Statement {
        if let value { sqlite3_bind_int64(stmt, index, value) } else { sqlite3_bind_null(stmt, index) }
        return self
    }

    @discardableResult
    func bind(_ index: Int32, _ value: String?) -> Statement {
        if let value {
            sqlite3_bind_text(stmt, index, value, -1, csqlite_transient())
        } else {
            sqlite3_bind_null(stmt, index)
        }
        return self
    }

    /// Steps once: true for a row, false when done.
    func step() throws -> Bool {
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

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(stmt, column) == SQLITE_NULL }

    func optionalInt(_ column: Int32) -> Int64? { isNull(column) ? nil : int(column) }

    func string(_ column: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, column) else { return nil }
        let n = Int(sqlite3_column_bytes(stmt, column))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    /// The column's bytes without a copy; valid until the next step or reset.
    func text(_ column: Int32) -> UnsafeBufferPointer<UInt8>? {
        guard let p = sqlite3_column_text(stmt, column) else { return nil }
        return UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, column)))
    }
}
