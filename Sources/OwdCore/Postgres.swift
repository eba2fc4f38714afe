import CPQ
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL store's connection, through libpq loaded at run time (CPQ). The engine
/// speaks to it through `Connection` and `Statement`, the same API as SQLite's; the
/// handlers' SQL is SQLite's, translated by `Dialect` (placeholders, JSON functions,
/// INSERT OR IGNORE, DDL types). Not thread-safe: the engine serialises each connection.
///
/// A lost connection fails the statement with `StoreError` and every later statement of
/// the same transaction (`scope`), so nothing of it runs on a new session; the next
/// transaction, or statement outside one, reconnects.
final class PGSession {
    static func isURI(_ path: String) -> Bool {
        path.hasPrefix("postgresql://") || path.hasPrefix("postgres://")
    }

    let api: UnsafePointer<cpq_api>
    let uri: String
    /// Run after every connect (lock_timeout, synchronous_commit, ...).
    let settings: String
    private(set) var conn: OpaquePointer?
    /// Bumped by a reconnect: statements prepared on the old session prepare again.
    private(set) var generation = 0
    /// Inside a transaction: a lost connection is not replaced until it ends.
    var scope = false
    /// The connection was lost inside the current transaction.
    private(set) var lost = false
    /// The lost connection was running COMMIT: its outcome is unknown.
    var committing = false
    private var names = 0
    /// Rows changed by the last INSERT, UPDATE or DELETE (sqlite3_changes).
    var lastChanges = 0
    /// The change number the write lock read, while it is the store's (nil: read it).
    var lockedChange: Int64?

    /// `name`: the session's fallback application_name ("owd writer", "owd reader"), so
    /// that pg_stat_activity tells owd's sessions apart.
    let name: String

    init(uri: String, settings: String, name: String = "owd") throws {
        self.name = name
        var message = [CChar](repeating: 0, count: 512)
        guard let api = cpq_load(&message, message.count) else {
            throw OwdError.store("cannot open store \(PGSession.redacted(uri)): \(String(cString: message))")
        }
        self.api = api
        self.uri = uri
        self.settings = settings
        try connect()
    }

    deinit { close() }

    func close() {
        if let conn { api.pointee.PQfinish(conn) }
        conn = nil
    }

    /// The URI without its password, for messages and logs.
    static func redacted(_ uri: String) -> String {
        guard let scheme = uri.firstRange(of: "://") else { return uri }
        let rest = uri[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return uri }
        let user = authority[..<at]
        guard let colon = user.firstIndex(of: ":") else { return uri }
        return String(uri[..<scheme.upperBound]) + user[..<colon] + ":***" + authority[at...] + rest[authorityEnd...]
    }

    private func connect() throws {
        close()
        // Ours first, so that the URI's own settings win (libpq: later keywords override).
        let keys = ["fallback_application_name", "client_encoding", "connect_timeout", "dbname"]
        let values = [name, "UTF8", "10", uri]
        let c = withCStrings(keys) { k in
            withCStrings(values) { v in api.pointee.PQconnectdbParams(k, v, 1) }
        }
        guard let c else { throw OwdError.outOfMemory }
        conn = c
        if api.pointee.PQstatus(c) != Int32(CPQ_CONNECTION_OK) {
            let message = PGSession.trimmed(api.pointee.PQerrorMessage(c))
            close()
            throw OwdError.store("cannot connect to PostgreSQL store \(PGSession.redacted(uri)): \(message)")
        }
        _ = api.pointee.PQsetNoticeProcessor(c, cpq_quiet, nil)
        generation += 1
        let r = api.pointee.PQexec(c, settings)
        defer { api.pointee.PQclear(r) }
        if api.pointee.PQresultStatus(r) != Int32(CPQ_PGRES_COMMAND_OK) {
            throw OwdError.store("cannot configure PostgreSQL store \(PGSession.redacted(uri)): \(PGSession.trimmed(api.pointee.PQresultErrorMessage(r)))")
        }
    }

    /// A live connection for the next statement: reconnects outside a transaction.
    func ready() throws -> OpaquePointer {
        if lost { throw lostError() }
        if let conn, api.pointee.PQstatus(conn) == Int32(CPQ_CONNECTION_OK) { return conn }
        if scope {
            lost = true
            throw lostError()
        }
        try connect()
        return conn!
    }

    /// The transaction is over (committed, rolled back, or lost): the next one may reconnect.
    func endScope() {
        lockedChange = nil
        scope = false
        lost = false
        committing = false
    }

    /// The server process of this session (pg_terminate_backend's argument); 0 when closed.
    var backendPID: Int32 { conn.map { api.pointee.PQbackendPID($0) } ?? 0 }

    var inTransaction: Bool {
        guard let conn, !lost else { return false }
        let s = api.pointee.PQtransactionStatus(conn)
        return s == Int32(CPQ_TRANS_INTRANS) || s == Int32(CPQ_TRANS_INERROR) || s == Int32(CPQ_TRANS_ACTIVE)
    }

    func lostError() -> OwdError {
        let detail = conn.map { PGSession.trimmed(api.pointee.PQerrorMessage($0)) } ?? ""
        let outcome = committing
            ? "the connection was lost during COMMIT, so the call's change may or may not have been committed"
            : "nothing of the call was committed"
        return .store("lost the connection to the PostgreSQL store (\(detail.isEmpty ? "server closed the connection" : detail)): \(outcome); the next call reconnects")
    }

    /// Checks a result: nil (no result) or an error status throws, after freeing it.
    func check(_ r: OpaquePointer?) throws -> OpaquePointer {
        let status = r.map { api.pointee.PQresultStatus($0) } ?? Int32(CPQ_PGRES_FATAL_ERROR)
        if status == Int32(CPQ_PGRES_COMMAND_OK) || status == Int32(CPQ_PGRES_TUPLES_OK), let r { return r }
        defer { if let r { api.pointee.PQclear(r) } }
        if conn.map({ api.pointee.PQstatus($0) != Int32(CPQ_CONNECTION_OK) }) ?? true {
            let error = lostError()
            if scope { lost = true }
            throw error
        }
        let state = r.flatMap { api.pointee.PQresultErrorField($0, Int32(CPQ_DIAG_SQLSTATE)) }.map { String(cString: $0) } ?? ""
        let message = r.map { PGSession.trimmed(api.pointee.PQresultErrorMessage($0)) }
            ?? conn.map { PGSession.trimmed(api.pointee.PQerrorMessage($0)) } ?? "no result"
        throw PGSession.error(state, message)
    }

    static func error(_ state: String, _ message: String) -> OwdError {
        switch state {
        case "55P03", "40001", "40P01", "57014":
            // lock_timeout (the busy timeout), serialization failure, deadlock, statement timeout
            return .busy("the store is busy (another writer held it past the busy timeout); nothing was changed, try again: \(message)")
        case "53100":
            return .store("the disk is full: \(message)")
        case "53200":
            return .outOfMemory
        case "25006":
            return .store("the store is read-only: \(message)")
        default:
            return .store(message)
        }
    }

    func exec(_ sql: String) throws {
        let c = try ready()
        api.pointee.PQclear(try check(api.pointee.PQexec(c, sql)))
    }

    /// Runs SQL text (several statements in one round trip); the first column of the last
    /// statement's first row.
    func execValue(_ sql: String) throws -> Int64? {
        let c = try ready()
        let r = try check(api.pointee.PQexec(c, sql))
        defer { api.pointee.PQclear(r) }
        guard api.pointee.PQntuples(r) > 0, api.pointee.PQgetisnull(r, 0, 0) == 0,
              let p = api.pointee.PQgetvalue(r, 0, 0) else { return nil }
        return Int64(String(cString: p))
    }

    func nextName() -> String {
        names += 1
        return "owd\(names)"
    }

    static func trimmed(_ p: UnsafeMutablePointer<CChar>?) -> String {
        guard let p else { return "" }
        var s = String(cString: p)
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }
}

/// C string arrays for libpq (keywords and values, NULL-terminated).
func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    var pointers = copies.map { UnsafePointer($0) }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// A prepared statement on a `PGSession`: parameters in text (bytea: binary), the whole
/// result fetched by the first step, rows read as text (bytea decoded from hex).
final class PGStatement {
    unowned let session: PGSession
    let sql: String
    private var name: String?
    private var generation = -1
    private var values: [[UInt8]?] = []
    private var binary: [Bool] = []
    private var types: [Oid] = []
    private var result: OpaquePointer?
    private var row: Int32 = -1
    private var rows: Int32 = 0
    /// bytea columns of the current row, decoded.
    private var decoded: [Int32: [UInt8]] = [:]

    init(session: PGSession, sql: String) {
        self.session = session
        self.sql = sql
    }

    deinit { clear() }

    private func clear() {
        if let result { session.api.pointee.PQclear(result) }
        result = nil
        row = -1
        rows = 0
        decoded.removeAll(keepingCapacity: true)
    }

    func reset() {
        clear()
        for i in values.indices { values[i] = nil; binary[i] = false }
    }

    private func slot(_ index: Int32, _ type: Oid) -> Int {
        let i = Int(index) - 1
        while values.count <= i { values.append(nil); binary.append(false); types.append(0) }
        // The first bind of a parameter gives its type (prepared once per session).
        if types[i] == 0 { types[i] = type }
        return i
    }

    func bind(_ index: Int32, _ value: Int64?) {
        let i = slot(index, value == nil ? 0 : 20)   // int8
        values[i] = value.map { Array(String($0).utf8) + [0] }
        binary[i] = false
    }

    func bind(_ index: Int32, _ value: String?) {
        let i = slot(index, value == nil ? 0 : 25)   // text
        values[i] = value.map { Array($0.utf8) + [0] }
        binary[i] = false
    }

    func bind(_ index: Int32, bytes: UnsafeRawBufferPointer) {
        let i = slot(index, 17)   // bytea
        values[i] = Array(bytes.bindMemory(to: UInt8.self))
        binary[i] = true
    }

    private func execute() throws {
        let c = try session.ready()
        let api = session.api.pointee
        if generation != session.generation || name == nil {
            let name = session.nextName()
            // A parameter the SQL never mentions (`?2` without `?1`) has no type to infer.
            for i in types.indices where types[i] == 0 && !Dialect.mentions(sql, i + 1) { types[i] = 25 }
            let prepared = types.withUnsafeBufferPointer { t in
                api.PQprepare(c, name, sql, Int32(types.count), t.baseAddress)
            }
            api.PQclear(try session.check(prepared))
            self.name = name
            generation = session.generation
        }
        // One buffer for every parameter, and pointers into it.
        var buffer: [UInt8] = []
        var offsets: [Int] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        for (i, v) in values.enumerated() {
            offsets.append(v == nil ? -1 : buffer.count)
            if let v { buffer.append(contentsOf: v) }
            lengths.append(Int32(v?.count ?? 0))
            formats.append(binary[i] ? 1 : 0)
        }
        if buffer.isEmpty { buffer.append(0) }
        let r: OpaquePointer? = buffer.withUnsafeBufferPointer { b in
            let base = UnsafeRawPointer(b.baseAddress!).assumingMemoryBound(to: CChar.self)
            let pointers: [UnsafePointer<CChar>?] = offsets.map { $0 < 0 ? nil : base + $0 }
            return api.PQexecPrepared(c, name!, Int32(values.count), pointers, lengths, formats, 0)
        }
        let checked = try session.check(r)
        if let p = api.PQcmdTuples(checked), p.pointee != 0 { session.lastChanges = Int(String(cString: p)) ?? 0 }
        result = checked
        rows = api.PQntuples(checked)
        row = -1
    }

    func step() throws -> Bool {
        if result == nil {
            do { try execute() } catch { clear(); throw error }
        }
        decoded.removeAll(keepingCapacity: true)
        if row < rows { row += 1 }
        return row < rows
    }

    func isNull(_ column: Int32) -> Bool {
        guard let result, row >= 0, row < rows else { return true }
        return session.api.pointee.PQgetisnull(result, row, column) != 0
    }

    func text(_ column: Int32) -> UnsafeBufferPointer<UInt8>? {
        guard !isNull(column), let result, let p = session.api.pointee.PQgetvalue(result, row, column) else { return nil }
        let n = Int(session.api.pointee.PQgetlength(result, row, column))
        return UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: n)
    }

    func int(_ column: Int32) -> Int64 {
        guard let t = text(column), let first = t.first else { return 0 }
        if first == UInt8(ascii: "t") { return 1 }   // a boolean (EXISTS, comparisons)
        if first == UInt8(ascii: "f") { return 0 }
        var negative = false
        var value: Int64 = 0
        for (i, b) in t.enumerated() {
            if i == 0 && b == UInt8(ascii: "-") { negative = true; continue }
            guard b >= 48 && b <= 57 else { break }
            value = value &* 10 &+ Int64(b - 48)
        }
        return negative ? -value : value
    }

    /// A bytea column's bytes (from libpq's hex text form); valid until the next step or reset.
    func blob(_ column: Int32) -> UnsafeBufferPointer<UInt8>? {
        if decoded[column] == nil {
            guard let t = text(column) else { return nil }
            var bytes: [UInt8] = []
            if t.count >= 2 && t[0] == UInt8(ascii: "\\") && t[1] == UInt8(ascii: "x") {
                bytes.reserveCapacity((t.count - 2) / 2)
                var i = 2
                func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
                while i + 1 < t.count {
                    bytes.append(nibble(t[i]) << 4 | nibble(t[i + 1]))
                    i += 2
                }
            } else {
                bytes = Array(t)
            }
            decoded[column] = bytes
        }
        return decoded[column]!.withUnsafeBufferPointer { $0 }
    }
}

/// The few differences between SQLite's SQL, which the handlers write, and PostgreSQL's,
/// each made here and nowhere else.
enum Dialect {
    /// A statement: `?` and `?N` become `$N`; json_extract(col, '$.a.b') becomes
    /// (col::json #>> '{a,b}'); json_each(?) becomes json_array_elements_text(?::json);
    /// LIKE becomes ILIKE (SQLite's LIKE ignores ASCII case); INSERT OR IGNORE becomes
    /// INSERT ... ON CONFLICT DO NOTHING.
    static func postgres(_ sql: String) -> String {
        var s = sql
        s = replaceJSONExtract(s)
        s = s.replacingAll("json_each(?)", with: "json_array_elements_text(?::json)")
        s = s.replacingAll(" LIKE ", with: " ILIKE ")
        if s.contains("INSERT OR IGNORE INTO ") {
            s = s.replacingAll("INSERT OR IGNORE INTO ", with: "INSERT INTO ")
            while s.last == "\n" || s.last == " " { s.removeLast() }
            s += " ON CONFLICT DO NOTHING"
        }
        return placeholders(s)
    }

    /// Schema text: SQLite's column types as PostgreSQL's. INTEGER is 64 bits in SQLite
    /// (BIGINT); an INTEGER PRIMARY KEY is the row's number (an identity column); TEXT
    /// compares bytewise in SQLite (COLLATE "C", so ORDER BY and >= agree); BLOB is BYTEA.
    static func postgresDDL(_ sql: String) -> String {
        var s = sql
        s = s.replacingAll(" INTEGER PRIMARY KEY", with: " BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        s = s.replacingAll(" INTEGER", with: " BIGINT")
        s = s.replacingAll(" TEXT", with: " TEXT COLLATE \"C\"")
        s = s.replacingAll(" BLOB", with: " BYTEA")
        s = s.replacingAll(" WITHOUT ROWID", with: "")
        return s
    }

    /// `$n` occurs in `sql` (not as the start of a longer number).
    static func mentions(_ sql: String, _ n: Int) -> Bool {
        let token = Array("$\(n)".utf8)
        let bytes = Array(sql.utf8)
        var i = 0
        while i + token.count <= bytes.count {
            if bytes[i..<i + token.count].elementsEqual(token) {
                let after = i + token.count
                if after == bytes.count || !(48...57).contains(bytes[after]) { return true }
            }
            i += 1
        }
        return false
    }

    private static func placeholders(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var next = 0
        var inString = false
        var chars = sql.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = chars.next()
        while let c = pending {
            pending = chars.next()
            if c == "'" { inString.toggle(); out.unicodeScalars.append(c); continue }
            if inString || c != "?" { out.unicodeScalars.append(c); continue }
            var digits = ""
            while let d = pending, d.properties.numericType != nil, ("0"..."9").contains(d) {
                digits.unicodeScalars.append(d)
                pending = chars.next()
            }
            if let n = Int(digits) {
                next = max(next, n)
                out += "$\(n)"
            } else {
                next += 1
                out += "$\(next)"
            }
        }
        return out
    }

    private static func replaceJSONExtract(_ sql: String) -> String {
        let open = "json_extract("
        var out = ""
        var rest = Substring(sql)
        while let r = rest.firstRange(of: open) {
            out += rest[..<r.lowerBound]
            let after = rest[r.upperBound...]
            guard let comma = after.firstRange(of: ", '$."),
                  let close = after[comma.upperBound...].firstRange(of: "')") else {
                out += rest[r.lowerBound...]
                return out
            }
            let column = after[..<comma.lowerBound]
            let path = after[comma.upperBound..<close.lowerBound].split(separator: ".").joined(separator: ",")
            out += "(\(column)::json #>> '{\(path)}')"
            rest = after[close.upperBound...]
        }
        out += rest
        return out
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}
