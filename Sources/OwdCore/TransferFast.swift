import CSQLite
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Import's fast path for the bulky kinds

/// Deployments and commands are nearly all of a big history (1,000,000 deployments, each
/// with its commands). Their records are flat and their shapes fixed, so they are read
/// here straight from the file's bytes into the bound columns: no json_t per record, no
/// String per member (the statement reads the bytes where they are: the file's mapping, or
/// `scratch` for a string with escapes). This path only ever *accepts*: a record with
/// anything it does not know (an unknown or repeated member, a null, a type it does not
/// expect, a bad number, an ID or time that does not parse, a missing parent, a conflict or
/// an equal record already stored) is handed back (nil), and the jansson path
/// (`ImportRecord`) reads it again and accepts it, skips it or refuses it with its message
/// naming the file and the record. So the rules stay in one place, and this path only adds
/// speed; `TransferTests` checks both give the same store.
struct FastRecord {
    typealias Bytes = UnsafeBufferPointer<UInt8>

    private let base: UnsafePointer<UInt8>
    private var at: Int
    private let end: Int
    /// Unescaped strings, for this record only (a string never grows when unescaped, so the
    /// record's length is enough).
    private let scratch: UnsafeMutablePointer<UInt8>
    private var used = 0

    init(_ base: UnsafePointer<UInt8>, _ range: Range<Int>, scratch: UnsafeMutablePointer<UInt8>) {
        self.base = base
        at = range.lowerBound
        end = range.upperBound
        self.scratch = scratch
    }

    @inline(__always) private func peek() -> UInt8? { at < end ? base[at] : nil }

    @inline(__always) private mutating func space() {
        while at < end, base[at] == 32 || base[at] == 10 || base[at] == 13 || base[at] == 9 { at += 1 }
    }

    @inline(__always) private mutating func take(_ c: UInt8) -> Bool {
        space()
        guard at < end, base[at] == c else { return false }
        at += 1
        return true
    }

    /// A string's bytes (unescaped; valid UTF-8 without NUL), or nil.
    mutating func string() -> Bytes? {
        guard take(34) else { return nil }
        let start = at
        var high: UInt8 = 0
        while at < end {
            let b = base[at]
            if b == 34 {
                let r = Bytes(start: base + start, count: at - start)
                at += 1
                return high < 0x80 || String(validating: r, as: UTF8.self) != nil ? r : nil
            }
            if b == 92 { at = start; return escaped() }
            if b < 32 { return nil }
            high |= b
            at += 1
        }
        return nil
    }

    /// A string with escapes, unescaped into `scratch` (at is at its first byte).
    private mutating func escaped() -> Bytes? {
        let out = scratch + used
        var n = 0
        func hex4(_ p: Int) -> UInt32? {
            guard p + 4 <= end else { return nil }
            var v: UInt32 = 0
            for i in p..<(p + 4) {
                let c = base[i]
                let d: UInt8
                switch c {
                case 48...57: d = c - 48
                case 97...102: d = c - 87
                case 65...70: d = c - 55
                default: return nil
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        while at < end {
            let b = base[at]
            if b == 34 {
                at += 1
                used += n
                let r = Bytes(start: UnsafePointer(out), count: n)
                return String(validating: r, as: UTF8.self) != nil ? r : nil
            }
            if b < 32 { return nil }
            if b != 92 { out[n] = b; n += 1; at += 1; continue }
            guard at + 1 < end else { return nil }
            let e = base[at + 1]
            at += 2
            switch e {
            case 34, 92, 47: out[n] = e
            case 98: out[n] = 8
            case 102: out[n] = 12
            case 110: out[n] = 10
            case 114: out[n] = 13
            case 116: out[n] = 9
            case 117:
                guard var u = hex4(at) else { return nil }
                at += 4
                if (0xD800..<0xDC00).contains(u) {
                    guard at + 6 <= end, base[at] == 92, base[at + 1] == 117, let lo = hex4(at + 2),
                          (0xDC00..<0xE000).contains(lo) else { return nil }
                    at += 6
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..<0xE000).contains(u) || u == 0 {
                    return nil   // a lone low surrogate, or NUL: the jansson path says what is wrong
                }
                // UTF-8 of u: never longer than the 6 bytes of \uXXXX it replaces.
                if u < 0x80 { out[n] = UInt8(u); n += 1 }
                else if u < 0x800 { out[n] = UInt8(0xC0 | u >> 6); out[n + 1] = UInt8(0x80 | u & 0x3F); n += 2 }
                else if u < 0x10000 {
                    out[n] = UInt8(0xE0 | u >> 12); out[n + 1] = UInt8(0x80 | (u >> 6) & 0x3F)
                    out[n + 2] = UInt8(0x80 | u & 0x3F); n += 3
                } else {
                    out[n] = UInt8(0xF0 | u >> 18); out[n + 1] = UInt8(0x80 | (u >> 12) & 0x3F)
                    out[n + 2] = UInt8(0x80 | (u >> 6) & 0x3F); out[n + 3] = UInt8(0x80 | u & 0x3F); n += 4
                }
                continue
            default: return nil
            }
            n += 1
        }
        return nil
    }

    /// A JSON integer as jansson reads one (no fraction, no exponent, no leading zero).
    mutating func integer() -> Int64? {
        space()
        var negative = false
        if peek() == 45 { negative = true; at += 1 }
        let start = at
        var v: Int64 = 0
        while at < end, base[at] >= 48 && base[at] <= 57 {
            guard at - start < 18 else { return nil }
            v = v * 10 + Int64(base[at] - 48)
            at += 1
        }
        let digits = at - start
        guard digits > 0, !(digits > 1 && base[start] == 48) else { return nil }
        if let c = peek(), c == 46 || c == 101 || c == 69 { return nil }
        return negative ? -v : v
    }

    /// `[ "..." , ... ]`.
    mutating func strings() -> [Bytes]? {
        guard take(91) else { return nil }
        var out: [Bytes] = []
        if take(93) { return out }
        repeat {
            guard let s = string() else { return nil }
            out.append(s)
        } while take(44)
        return take(93) ? out : nil
    }

    /// Each member of an object: `body(name)` reads its value (false: not handled); nil
    /// when the object is not read to its end.
    mutating func members(_ body: (inout FastRecord, Bytes) -> Bool) -> Bool {
        guard take(123) else { return false }
        if take(125) { return true }
        repeat {
            guard let name = string(), take(58), body(&self, name) else { return false }
        } while take(44)
        return take(125)
    }

    /// Nothing but space left.
    mutating func atEnd() -> Bool { space(); return at == end }
}

@inline(__always) func same(_ b: FastRecord.Bytes, _ s: StaticString) -> Bool {
    b.count == s.utf8CodeUnitCount && memcmp(b.baseAddress!, s.utf8Start, b.count) == 0
}

/// Bit flags of the members seen (a repeated member is the jansson path's to refuse).
struct Seen {
    var bits: UInt32 = 0
    @inline(__always) mutating func first(_ bit: UInt32) -> Bool {
        if bits & bit != 0 { return false }
        bits |= bit
        return true
    }
}

extension Statement {
    /// Binds bytes that stay where they are until the statement is reset (SQLITE_STATIC;
    /// PostgreSQL's statement copies them).
    @discardableResult
    func bind(_ index: Int32, bytes: FastRecord.Bytes?) -> Statement {
        if pg != nil { return bind(index, bytes.map { String(decoding: $0, as: UTF8.self) }) }
        if let bytes {
            sqlite3_bind_text(stmt, index, UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!)
                .assumingMemoryBound(to: CChar.self), Int32(bytes.count), nil)
        } else {
            sqlite3_bind_null(stmt, index)
        }
        return self
    }
}

extension Store {
    /// A deployment through the fast path: true when inserted, nil for the jansson path.
    func addDeploymentFast(_ c: Connection, _ change: Int64, _ known: KnownParents, _ rec: inout FastRecord) throws -> Bool? {
        var id: FastRecord.Bytes?, stack: FastRecord.Bytes?, app: FastRecord.Bytes?, arn: FastRecord.Bytes?
        var comment: FastRecord.Bytes?, customJson: FastRecord.Bytes?, statusName: FastRecord.Bytes?
        var created: Int64?, completed: Int64?, duration: Int64?
        var name: CommandName?, args: [(String, [String])] = [], instances: [FastRecord.Bytes] = []
        var seen = Seen()
        let ok = rec.members { r, m in
            switch m.count {
            case 12 where same(m, "DeploymentId"): guard seen.first(1) else { return false }; id = r.string(); return id != nil
            case 7 where same(m, "StackId"): guard seen.first(2) else { return false }; stack = r.string(); return stack != nil
            case 5 where same(m, "AppId"): guard seen.first(4) else { return false }; app = r.string(); return app != nil
            case 9 where same(m, "CreatedAt"):
                guard seen.first(8), let t = r.string().flatMap(Timestamp.parse) else { return false }
                created = t; return true
            case 11 where same(m, "CompletedAt"):
                guard seen.first(16), let t = r.string().flatMap(Timestamp.parse) else { return false }
                completed = t; return true
            case 8 where same(m, "Duration"): guard seen.first(32) else { return false }; duration = r.integer(); return duration != nil
            case 10 where same(m, "IamUserArn"): guard seen.first(64) else { return false }; arn = r.string(); return arn != nil
            case 7 where same(m, "Comment"): guard seen.first(128) else { return false }; comment = r.string(); return comment != nil
            case 6 where same(m, "Status"): guard seen.first(256) else { return false }; statusName = r.string(); return statusName != nil
            case 10 where same(m, "CustomJson"): guard seen.first(512) else { return false }; customJson = r.string(); return customJson != nil
            case 11 where same(m, "InstanceIds"):
                guard seen.first(1024), let list = r.strings() else { return false }
                instances = list; return true
            case 7 where same(m, "Command"):
                guard seen.first(2048) else { return false }
                var inner = Seen()
                return r.members { r, k in
                    if same(k, "Name") {
                        guard inner.first(1), let n = r.string(), let c = CommandName(name: String(decoding: n, as: UTF8.self)) else { return false }
                        name = c; return true
                    }
                    guard same(k, "Args"), inner.first(2) else { return false }
                    var keys = Set<String>()
                    return r.members { r, key in
                        let k = String(decoding: key, as: UTF8.self)
                        guard keys.insert(k).inserted, let values = r.strings() else { return false }
                        args.append((k, values.map { String(decoding: $0, as: UTF8.self) }))
                        return true
                    }
                }
            default: return false
            }
        }
        guard ok, rec.atEnd(), let id, let stack, let created, let name, let statusName,
              let idKey = UUIDKey.parse(id), UUIDKey.parse(stack) != nil,
              app.map({ UUIDKey.parse($0) != nil }) ?? true else { return nil }
        let status: DeploymentStatus
        if same(statusName, "successful") { status = .successful }
        else if same(statusName, "failed") { status = .failed }
        else if same(statusName, "running") { status = .running }
        else { return nil }
        if let duration { guard let completed, completed - created == duration else { return nil } }
        if (status == .running) != (completed == nil) { return nil }
        let stackID = String(decoding: stack, as: UTF8.self)
        guard try knownParent(c, known, .stack, stackID, stack: nil) else { return nil }
        if let app, !(try knownParent(c, known, .app, String(decoding: app, as: UTF8.self), stack: stackID)) { return nil }
        _ = idKey
        let d = try c.prepare(Store.insertDeployment)
        d.bind(1, bytes: id).bind(2, bytes: stack).bind(3, bytes: app).bind(4, created).bind(5, completed)
        d.bind(6, Int64(status.rawValue)).bind(7, Int64(name.rawValue))
        let blob = ArgsBlob.encode(args)
        blob.withUnsafeBytes { _ = d.bind(8, bytes: $0) }
        var joined: [UInt8] = []
        joined.reserveCapacity(instances.count * 37)
        for (i, x) in instances.enumerated() {
            if i > 0 { joined.append(44) }
            joined.append(contentsOf: x)
        }
        let done: Bool = try joined.withUnsafeBufferPointer { j in
            d.bind(9, bytes: j).bind(10, bytes: arn).bind(11, bytes: comment).bind(12, bytes: customJson).bind(13, change)
            try d.run()
            return c.changes == 1
        }
        return done ? true : nil
    }

    /// A command through the fast path: true when inserted, nil for the jansson path.
    func addCommandFast(_ c: Connection, _ known: KnownParents, _ rec: inout FastRecord) throws -> Bool? {
        var id: FastRecord.Bytes?, instance: FastRecord.Bytes?, deployment: FastRecord.Bytes?
        var status: FastRecord.Bytes?, logURL: FastRecord.Bytes?, type: FastRecord.Bytes?
        var created: Int64?, acknowledged: Int64?, completed: Int64?, exitCode: Int64?
        var seen = Seen()
        let ok = rec.members { r, m in
            switch m.count {
            case 9 where same(m, "CommandId"): guard seen.first(1) else { return false }; id = r.string(); return id != nil
            case 10 where same(m, "InstanceId"): guard seen.first(2) else { return false }; instance = r.string(); return instance != nil
            case 12 where same(m, "DeploymentId"): guard seen.first(4) else { return false }; deployment = r.string(); return deployment != nil
            case 9 where same(m, "CreatedAt"):
                guard seen.first(8), let t = r.string().flatMap(Timestamp.parse) else { return false }
                created = t; return true
            case 14 where same(m, "AcknowledgedAt"):
                guard seen.first(16), let t = r.string().flatMap(Timestamp.parse) else { return false }
                acknowledged = t; return true
            case 11 where same(m, "CompletedAt"):
                guard seen.first(32), let t = r.string().flatMap(Timestamp.parse) else { return false }
                completed = t; return true
            case 6 where same(m, "Status"): guard seen.first(64) else { return false }; status = r.string(); return status != nil
            case 8 where same(m, "ExitCode"): guard seen.first(128) else { return false }; exitCode = r.integer(); return exitCode != nil
            case 6 where same(m, "LogUrl"): guard seen.first(256) else { return false }; logURL = r.string(); return logURL != nil
            case 4 where same(m, "Type"): guard seen.first(512) else { return false }; type = r.string(); return type != nil
            default: return false
            }
        }
        guard ok, rec.atEnd(), let id, let instance, let deployment, let created, let status, let type,
              UUIDKey.parse(id) != nil, UUIDKey.parse(instance) != nil, UUIDKey.parse(deployment) != nil else { return nil }
        let q = try c.prepare("SELECT seq, stack_id FROM deployments WHERE id=?")
        q.bind(1, bytes: deployment)
        guard try q.step() else { q.reset(); return nil }
        let seq = q.int(0), stack = q.string(1) ?? ""
        q.reset()
        guard try knownParent(c, known, .instance, String(decoding: instance, as: UTF8.self), stack: stack) else { return nil }
        let s = try c.prepare(Store.insertCommand)
        s.bind(1, bytes: id).bind(2, seq).bind(3, bytes: deployment).bind(4, stack).bind(5, bytes: instance).bind(6, created)
        s.bind(7, acknowledged).bind(8, completed).bind(9, bytes: status)
        s.bind(10, exitCode).bind(11, bytes: logURL).bind(12, bytes: type)
        try s.run()
        return c.changes == 1 ? true : nil
    }
}
