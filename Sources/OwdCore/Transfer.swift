import CJansson
import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// Section 16: `owd export` and `owd import`. The files are what `aws opsworks describe-*`
/// prints: one object with one member (`Stacks`, `Layers`, `Apps`, `Instances`,
/// `UserProfiles`, `Permissions`, `Deployments`, `Commands`) holding the list.
///
/// Choices where AWS's outputs leave things open (docs/behaviour.md section 16 and
/// docs/import-export.md):
/// - Files are taken in parent order whatever their order on the command line (stacks,
///   layers, apps, instances, user profiles, permissions, deployments, commands), so a
///   parent "in the files" is a parent already added in the same transaction.
/// - Parents checked: a layer's, app's, instance's, permission's and deployment's stack; an
///   instance's layers; a deployment's app (when it names one); a command's deployment and
///   instance. A command's stack is its deployment's. A permission needs no user profile
///   (describe-permissions alone imports).
/// - A deployment's commands are only what the commands files hold: AWS's
///   describe-deployments has no command IDs, so none are made up. A `running` deployment
///   waits for its imported `pending` commands (none: it stays running until an instance
///   stops or leaves, as any deployment whose commands are gone).
/// - `Duration` is `CompletedAt - CreatedAt`, as every owd answer computes it; a record
///   whose `Duration` says otherwise is refused (it could not be answered back as written).
/// - Timestamps: `YYYY-MM-DDTHH:MM:SS` with `+00:00`, `Z` or another offset, fractions of a
///   second refused (owd keeps whole seconds and could not answer them back).
/// - A record equal to the one stored (as stored, or as an export filters it) is skipped.
public struct TransferSummary: Equatable, Sendable {
    public var added = 0
    public var skipped = 0
    /// Of `added`, the records read by the fast path (TransferFast.swift); not part of equality.
    var fast = 0
    public init() {}

    public static func == (a: TransferSummary, b: TransferSummary) -> Bool { a.added == b.added && a.skipped == b.skipped }
}

/// How far an import is: bytes of all files read, records added or skipped.
public struct TransferProgress: Sendable {
    public var bytesDone: Int64
    public var bytesTotal: Int64
    public var records: Int
}

enum TransferKind: Int, CaseIterable {
    case stacks, layers, apps, instances, userProfiles, permissions, deployments, commands

    var listKey: String {
        switch self {
        case .stacks: return "Stacks"
        case .layers: return "Layers"
        case .apps: return "Apps"
        case .instances: return "Instances"
        case .userProfiles: return "UserProfiles"
        case .permissions: return "Permissions"
        case .deployments: return "Deployments"
        case .commands: return "Commands"
        }
    }

    var fileName: String {
        switch self {
        case .userProfiles: return "user-profiles.json"
        default: return listKey.lowercased() + ".json"
        }
    }

    var outputShape: String {
        switch self {
        case .stacks: return "Stack"
        case .layers: return "Layer"
        case .apps: return "App"
        case .instances: return "Instance"
        case .userProfiles: return "UserProfile"
        case .permissions: return "Permission"
        case .deployments: return "Deployment"
        case .commands: return "Command"
        }
    }

    var idMember: String {
        switch self {
        case .stacks: return "StackId"
        case .layers: return "LayerId"
        case .apps: return "AppId"
        case .instances: return "InstanceId"
        case .userProfiles, .permissions: return "IamUserArn"
        case .deployments: return "DeploymentId"
        case .commands: return "CommandId"
        }
    }
}

/// An import refused: the whole import changed nothing.
func refused(_ file: String, _ what: String) -> OwdError {
    .validation("import refused: \(file): \(what)")
}

// MARK: - Reading a file as a stream of records

/// A describe output file, mapped, walked record by record: `{"Key": [ {...}, ... ]}`. Only
/// one record is parsed at a time, so memory stays bounded whatever the file's size.
final class RecordFile {
    let path: String
    let size: Int
    private let base: UnsafePointer<UInt8>?
    private var at = 0
    private(set) var key = ""
    private var finished = false
    private(set) var index = -1

    init(path: String) throws {
        self.path = path
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OwdError.invalidArgument("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw OwdError.invalidArgument("cannot read \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw OwdError.invalidArgument("cannot read \(path): not a regular file") }
        size = Int(st.st_size)
        if size == 0 {
            base = nil
        } else {
            guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
                throw OwdError.invalidArgument("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            madvise(p, size, MADV_SEQUENTIAL)
            base = UnsafePointer(p.assumingMemoryBound(to: UInt8.self))
        }
    }

    deinit { if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) } }

    var offset: Int { at }

    private func peek() -> UInt8? { at < size ? base![at] : nil }

    private func skipSpace() {
        while at < size {
            let b = base![at]
            if b == 32 || b == 9 || b == 10 || b == 13 { at += 1 } else { return }
        }
    }

    private func truncated() -> OwdError { refused(path, "the file ends early (truncated) at byte \(size)") }
    private func notJSON(_ what: String) -> OwdError { refused(path, "not JSON: \(what) at byte \(at)") }

    private func expect(_ c: UInt8, _ what: String) throws {
        skipSpace()
        guard let b = peek() else { throw truncated() }
        guard b == c else { throw notJSON("expected \(what)") }
        at += 1
    }

    /// Skips one string (at its opening quote), returning its bytes without the quotes.
    private func skipString() throws -> Range<Int> {
        at += 1
        let start = at
        while at < size {
            let b = base![at]
            if b == 34 { at += 1; return start..<(at - 1) }
            at += b == 92 ? 2 : 1
        }
        throw truncated()
    }

    /// Skips one value; jansson checks it in full afterwards.
    private func skipValue() throws {
        skipSpace()
        guard let first = peek() else { throw truncated() }
        if first == 34 { _ = try skipString(); return }
        if first != 123 && first != 91 {
            while at < size {
                let b = base![at]
                if b == 44 || b == 93 || b == 125 || b == 32 || b == 10 || b == 13 || b == 9 { return }
                at += 1
            }
            throw truncated()
        }
        var depth = 0
        while at < size {
            let b = base![at]
            switch b {
            case 34: _ = try skipString(); continue
            case 123, 91: depth += 1
            case 125, 93:
                depth -= 1
                if depth == 0 { at += 1; return }
            default: break
            }
            at += 1
        }
        throw truncated()
    }

    /// Reads `{"Key": [` and returns Key.
    func begin() throws -> String {
        skipSpace()
        guard peek() != nil else { throw refused(path, "the file is empty (truncated): expected {\"Stacks\": [...]} or another describe output") }
        try expect(123, "{")
        skipSpace()
        guard let q = peek() else { throw truncated() }
        guard q == 34 else {
            if q == 125 { throw refused(path, "wrong shape: an empty object; expected one of \(TransferKind.allCases.map(\.listKey).joined(separator: ", ")) holding a list") }
            throw notJSON("expected a member name")
        }
        let r = try skipString()
        key = String(decoding: UnsafeBufferPointer(start: base! + r.lowerBound, count: r.count), as: UTF8.self)
        try expect(58, ":")
        skipSpace()
        guard let l = peek() else { throw truncated() }
        guard l == 91 else { throw refused(path, "wrong shape: \(key) is not a list") }
        at += 1
        return key
    }

    /// The next record (a new reference), or nil after the list's end (and the file's).
    func next() throws -> UnsafeMutablePointer<json_t>? {
        guard let r = try nextRange() else { return nil }
        return try load(r)
    }

    /// The bytes of the next record (`index` is its place), or nil after the list's end.
    func nextRange() throws -> Range<Int>? {
        if finished { return nil }
        skipSpace()
        guard let b = peek() else { throw truncated() }
        if b == 93 {
            at += 1
            try expect(125, "} after the list (one member only)")
            skipSpace()
            guard at == size else { throw notJSON("text after the object") }
            finished = true
            return nil
        }
        if index >= 0 {
            guard b == 44 else { throw notJSON("expected , or ]") }
            at += 1
        }
        skipSpace()
        let start = at
        try skipValue()
        index += 1
        return start..<at
    }

    /// A record's bytes parsed by jansson (a new reference).
    func load(_ r: Range<Int>) throws -> UnsafeMutablePointer<json_t> {
        var error = json_error_t()
        guard let record = json_loadb(UnsafeRawPointer(base! + r.lowerBound).assumingMemoryBound(to: CChar.self), r.count,
                                      Int(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES), &error) else {
            throw refused(path, "record \(index + 1): not JSON: \(JSON.reason(&error))")
        }
        return record
    }

    /// The record's bytes for the fast path (FastRecord).
    func fast(_ r: Range<Int>, scratch: UnsafeMutablePointer<UInt8>) -> FastRecord {
        FastRecord(base!, r, scratch: scratch)
    }
}

// MARK: - Records in, as the store keeps them

/// One record's members, read with the file and record named in every refusal.
struct ImportRecord {
    let file: String
    let position: Int
    let json: UnsafeMutablePointer<json_t>
    let kind: TransferKind

    init(file: String, position: Int, json: UnsafeMutablePointer<json_t>, kind: TransferKind) {
        self.file = file
        self.position = position
        self.json = json
        self.kind = kind
    }

    /// "Deployment <id>" (a permission: "Permission <stack>/<user>"), or "record N".
    var label: String {
        guard let id = optionalString(kind.idMember) else { return "record \(position)" }
        return "\(kind.outputShape) \(kind == .permissions ? "\(optionalString("StackId") ?? "?")/" : "")\(id)"
    }

    func fail(_ what: String) -> OwdError { refused(file, "\(label): \(what)") }

    func optionalString(_ name: String) -> String? {
        guard let v = json_object_get(json, name), cjansson_typeof(v) == Int32(JSON_STRING.rawValue) else { return nil }
        return JSON.validString(json_string_value(v), json_string_length(v))
    }

    func has(_ name: String) -> Bool { json_object_get(json, name) != nil }

    func string(_ name: String) throws -> String? {
        guard let v = json_object_get(json, name) else { return nil }
        guard cjansson_typeof(v) == Int32(JSON_STRING.rawValue),
              let s = JSON.validString(json_string_value(v), json_string_length(v)) else {
            throw fail("wrong shape: \(name) is \(JSON.typeName(v)), not a string")
        }
        return s
    }

    func required(_ name: String) throws -> String {
        guard let s = try string(name) else { throw fail("wrong shape: \(name) is missing") }
        return s
    }

    func id(_ name: String) throws -> String {
        let s = try required(name)
        guard UUIDKey(s) != nil else { throw fail("\(name) \(s) is not an OpsWorks ID (a lowercase UUID)") }
        return s
    }

    func optionalID(_ name: String) throws -> String? {
        guard has(name) else { return nil }
        return try id(name)
    }

    func time(_ name: String) throws -> Int64? {
        guard let v = json_object_get(json, name) else { return nil }
        if cjansson_typeof(v) == Int32(JSON_STRING.rawValue), let p = json_string_value(v),
           let t = p.withMemoryRebound(to: UInt8.self, capacity: json_string_length(v), {
               Timestamp.parse(UnsafeBufferPointer(start: $0, count: json_string_length(v)))
           }) {
            return t
        }
        let s = try string(name) ?? ""
        throw fail("\(name) \"\(s)\" is not a timestamp YYYY-MM-DDTHH:MM:SS+00:00 (whole seconds)")
    }

    func integer(_ name: String) throws -> Int64? {
        guard let v = json_object_get(json, name) else { return nil }
        guard cjansson_typeof(v) == Int32(JSON_INTEGER.rawValue) else { throw fail("wrong shape: \(name) is \(JSON.typeName(v)), not an integer") }
        return Int64(json_integer_value(v))
    }

    func boolean(_ name: String) throws -> Bool? {
        guard let v = json_object_get(json, name) else { return nil }
        switch cjansson_typeof(v) {
        case Int32(JSON_TRUE.rawValue): return true
        case Int32(JSON_FALSE.rawValue): return false
        default: throw fail("wrong shape: \(name) is \(JSON.typeName(v)), not a boolean")
        }
    }

    func strings(_ name: String) throws -> [String] {
        guard let v = json_object_get(json, name) else { return [] }
        guard cjansson_typeof(v) == Int32(JSON_ARRAY.rawValue) else { throw fail("wrong shape: \(name) is not a list") }
        var out: [String] = []
        for i in 0..<json_array_size(v) {
            let e = json_array_get(v, i)
            guard cjansson_typeof(e) == Int32(JSON_STRING.rawValue), let s = JSON.validString(json_string_value(e), json_string_length(e)) else {
                throw fail("wrong shape: \(name) holds a \(JSON.typeName(e)), not a string")
            }
            out.append(s)
        }
        return out
    }

    /// The members of the records whose every member `add` reads with its type checked.
    static let readMembers: [TransferKind: [StaticString]] = [
        .deployments: ["DeploymentId", "StackId", "AppId", "CreatedAt", "CompletedAt", "Duration", "IamUserArn",
                       "Comment", "Command", "Status", "CustomJson", "InstanceIds"],
        .commands: ["CommandId", "InstanceId", "DeploymentId", "CreatedAt", "AcknowledgedAt", "CompletedAt", "Status",
                    "ExitCode", "LogUrl", "Type"],
        .permissions: ["StackId", "IamUserArn", "AllowSsh", "AllowSudo", "Level"],
    ]

    /// Refuses members the describe output shape has not, and values of the wrong type.
    func checkMembers() throws {
        if let names = ImportRecord.readMembers[kind] {
            var it = json_object_iter(json)
            while let i = it {
                let key = json_object_iter_key(i)!
                if !names.contains(where: { strcmp(cString($0), key) == 0 }) {
                    throw fail("wrong shape for AWS's \(kind.outputShape): Unknown parameter in input: \"\(String(cString: key))\", must be one of: \(names.map(\.description).joined(separator: ", "))")
                }
                it = json_object_iter_next(json, i)
            }
            return
        }
        do {
            try OperationShapes.validate(record: json, shape: kind.outputShape)
        } catch let e as OwdError {
            throw fail("wrong shape for AWS's \(kind.outputShape): \(e.message)")
        }
    }

    /// The record without `dropping`, as compact JSON text (a stored body).
    func body(dropping: [String]) throws -> String {
        guard let copy = json_copy(json) else { throw OwdError.outOfMemory }
        defer { cjansson_decref(copy) }
        for d in dropping { json_object_del(copy, d) }
        return try JSON.dumps(copy)
    }

    /// The record with its timestamps in the store's spelling, for comparison with what
    /// the store answers.
    func normalized() throws -> UnsafeMutablePointer<json_t> {
        guard let copy = json_copy(json) else { throw OwdError.outOfMemory }
        for name in ["CreatedAt", "CompletedAt", "AcknowledgedAt"] {
            if let t = try time(name) {
                json_object_set_new(copy, name, json_string(Timestamp.string(t)))
            }
        }
        return copy
    }
}

extension Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS` then `Z`, `+00:00` or another `+HH:MM`/`-HH:MM` offset; nil
    /// for anything else (fractions of a second included: owd keeps whole seconds).
    public static func parse(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parse($0) }
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard b.count == 20 || b.count == 25, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 32,
              b[13] == 58, b[16] == 58 else { return nil }
        func num(_ from: Int, _ n: Int) -> Int64? {
            var v: Int64 = 0
            for i in from..<(from + n) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard let y = num(0, 4), let m = num(5, 2), let d = num(8, 2), let hh = num(11, 2), let mm = num(14, 2),
              let ss = num(17, 2), (1...12).contains(m), (1...31).contains(d), hh < 24, mm < 60, ss < 61 else { return nil }
        var offset: Int64 = 0
        if b.count == 20 {
            guard b[19] == 90 else { return nil }
        } else {
            guard b[19] == 43 || b[19] == 45, b[22] == 58, let oh = num(20, 2), let om = num(23, 2), oh < 24, om < 60 else { return nil }
            offset = (oh * 3600 + om * 60) * (b[19] == 45 ? -1 : 1)
        }
        // Howard Hinnant's days_from_civil.
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return days * 86_400 + hh * 3600 + mm * 60 + ss - offset
    }
}

// MARK: - Import

extension Store {
    /// `owd import`: adds the records of `paths` in one transaction (section 16). A refusal
    /// names the file and the record and changes nothing. `progress` is called every few
    /// thousand records and once at the end.
    /// `fastPath` false: every record through jansson (tests compare the two paths).
    public func importFiles(_ paths: [String], progress: ((TransferProgress) -> Void)? = nil) throws -> TransferSummary {
        try importFiles(paths, progress: progress, fastPath: true)
    }

    func importFiles(_ paths: [String], progress: ((TransferProgress) -> Void)?, fastPath: Bool) throws -> TransferSummary {
        try checkTransferCaller("Import")
        guard !paths.isEmpty else { throw OwdError.invalidArgument("import: name at least one file") }
        // Open and classify every file first: a bad file is refused before anything is written.
        var files: [(TransferKind, RecordFile)] = []
        for path in paths {
            let f = try RecordFile(path: path)
            let key = try f.begin()
            guard let kind = TransferKind.allCases.first(where: { $0.listKey == key }) else {
                throw refused(path, "wrong shape: \(key) is none of \(TransferKind.allCases.map(\.listKey).joined(separator: ", "))")
            }
            files.append((kind, f))
        }
        let ordered = files.enumerated().sorted { ($0.element.0.rawValue, $0.offset) < ($1.element.0.rawValue, $1.offset) }.map(\.element)
        let total = files.reduce(Int64(0)) { $0 + Int64($1.1.size) }
        var summary = TransferSummary()
        let known = KnownParents()
        try engine.write(deferCacheLoad: true) { c, change in
            // A big import's pages stay in memory until the commit rather than spilling
            // into the WAL and being read back (SQLite's default cache is 2 MiB). A
            // PostgreSQL store has no such setting (its server owns the cache).
            let cacheSize = c.pg == nil ? try c.scalar("PRAGMA cache_size") : nil
            if cacheSize != nil { try c.prepare("PRAGMA cache_size=-\(Store.importCacheKiB)").run() }
            defer { if let cacheSize { try? c.prepare("PRAGMA cache_size=\(cacheSize)").run() } }
            var done: Int64 = 0
            var seen = 0
            var scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
            var scratchSize = 4096
            defer { scratch.deallocate() }
            for (kind, file) in ordered {
                let fast = fastPath && (kind == .deployments || kind == .commands)
                while let range = try file.nextRange() {
                    if fast {
                        if range.count > scratchSize {
                            scratch.deallocate()
                            scratchSize = range.count
                            scratch = .allocate(capacity: scratchSize)
                        }
                        var rec = file.fast(range, scratch: scratch)
                        let added = kind == .deployments ? try addDeploymentFast(c, change, known, &rec)
                                                         : try addCommandFast(c, known, &rec)
                        if added != nil {
                            summary.added += 1
                            summary.fast += 1
                            seen += 1
                            if seen % 4096 == 0, let progress {
                                progress(TransferProgress(bytesDone: done + Int64(file.offset), bytesTotal: total, records: seen))
                            }
                            continue
                        }
                    }
                    let json = try file.load(range)
                    defer { cjansson_decref(json) }
                    guard cjansson_typeof(json) == Int32(JSON_OBJECT.rawValue) else {
                        throw refused(file.path, "record \(file.index + 1): wrong shape: a \(JSON.typeName(json)), not an object")
                    }
                    Store.dropNulls(json)
                    let record = ImportRecord(file: file.path, position: file.index + 1, json: json, kind: kind)
                    try record.checkMembers()
                    if try add(c, change, known, record) { summary.added += 1 } else { summary.skipped += 1 }
                    seen += 1
                    if seen % 4096 == 0, let progress {
                        progress(TransferProgress(bytesDone: done + Int64(file.offset), bytesTotal: total, records: seen))
                    }
                }
                done += Int64(file.size)
            }
            // Running deployments wait for their imported pending commands.
            try c.prepare("""
                UPDATE deployments SET pending=(SELECT count(*) FROM commands
                    WHERE deployment_seq=deployments.seq AND status='pending')
                WHERE change_seq=? AND status=?
                """).bind(1, change).bind(2, Int64(DeploymentStatus.running.rawValue)).run()
            progress?(TransferProgress(bytesDone: total, bytesTotal: total, records: seen))
        }
        return summary
    }

    /// Import and export read and write every stack: the embedding program's only.
    func checkTransferCaller(_ action: String) throws {
        if let caller {
            throw OwdError.accessDenied("User: \(caller) is not authorized to perform: owd:\(action) on resource: *")
        }
    }

    /// AWS's outputs hold null in maps (a layer's `Attributes`: `"RubygemsVersion": null`);
    /// no owd answer ever holds null (section 1): a null member is an absent one.
    static func dropNulls(_ json: UnsafeMutablePointer<json_t>) {
        switch cjansson_typeof(json) {
        case Int32(JSON_OBJECT.rawValue):
            var nulls: [String] = []
            var it = json_object_iter(json)
            while let i = it {
                if let v = json_object_iter_value(i) {
                    if cjansson_typeof(v) == Int32(JSON_NULL.rawValue) { nulls.append(String(cString: json_object_iter_key(i))) }
                    else { dropNulls(v) }
                }
                it = json_object_iter_next(json, i)
            }
            for n in nulls { json_object_del(json, n) }
        case Int32(JSON_ARRAY.rawValue):
            var i = 0
            while i < json_array_size(json) {
                if let v = json_array_get(json, i), cjansson_typeof(v) == Int32(JSON_NULL.rawValue) { json_array_remove(json, i); continue }
                if let v = json_array_get(json, i) { dropNulls(v) }
                i += 1
            }
        default: break
        }
    }

    /// Adds one record; false when an equal one is stored (skipped).
    private func add(_ c: Connection, _ change: Int64, _ known: KnownParents, _ r: ImportRecord) throws -> Bool {
        switch r.kind {
        case .stacks:
            let id = try r.id("StackId")
            let region = try r.required("Region")
            guard let created = try r.time("CreatedAt") else { throw r.fail("wrong shape: CreatedAt is missing") }
            let body = try r.body(dropping: ["StackId", "CreatedAt"])
            let s = try c.prepare("INSERT OR IGNORE INTO stacks(id, region, created_at, body, change_seq) VALUES(?,?,?,?,?)")
            s.bind(1, id).bind(2, region).bind(3, created).bind(4, body).bind(5, change)
            return try inserted(c, s, r, kind: .stack, id: id)
        case .layers, .apps:
            let resource: ResourceKind = r.kind == .layers ? .layer : .app
            let id = try r.id(resource.idMember)
            let stack = try r.id("StackId")
            try parent(c, known, r, .stack, stack)
            guard let created = try r.time("CreatedAt") else { throw r.fail("wrong shape: CreatedAt is missing") }
            let body = try r.body(dropping: [resource.idMember, "StackId", "CreatedAt"])
            let s = try c.prepare(r.kind == .layers
                ? "INSERT OR IGNORE INTO layers(id, stack_id, created_at, body) VALUES(?,?,?,?)"
                : "INSERT OR IGNORE INTO apps(id, stack_id, created_at, body, change_seq) VALUES(?,?,?,?,?)")
            s.bind(1, id).bind(2, stack).bind(3, created).bind(4, body)
            if r.kind == .apps { s.bind(5, change) }
            let added = try inserted(c, s, r, kind: resource.resource, id: id)
            if added && r.kind == .apps {
                try c.prepare("INSERT INTO app_versions(app_id, version, body) VALUES(?, 1, ?)").bind(1, id).bind(2, body).run()
            }
            return added
        case .instances:
            let id = try r.id("InstanceId")
            let stack = try r.id("StackId")
            try parent(c, known, r, .stack, stack)
            let layers = try r.strings("LayerIds")
            for l in layers {
                guard UUIDKey(l) != nil else { throw r.fail("LayerIds: \(l) is not an OpsWorks ID") }
                try parent(c, known, r, .layer, l, stack: stack)
            }
            guard let created = try r.time("CreatedAt") else { throw r.fail("wrong shape: CreatedAt is missing") }
            let status = try r.string("Status") ?? "stopped"
            let body = try r.body(dropping: ["InstanceId", "StackId", "CreatedAt", "Status"])
            let s = try c.prepare("""
                INSERT OR IGNORE INTO instances(id, stack_id, created_at, status, layer_ids, os, body) VALUES(?,?,?,?,?,?,?)
                """)
            s.bind(1, id).bind(2, stack).bind(3, created).bind(4, status)
            s.bind(5, Store.unique(layers).joined(separator: ",")).bind(6, try r.string("Os") ?? "").bind(7, body)
            return try inserted(c, s, r, kind: .instance, id: id)
        case .userProfiles:
            let arn = try r.required("IamUserArn")
            let s = try c.prepare("INSERT OR IGNORE INTO user_profiles(iam_user_arn, body) VALUES(?,?)")
            s.bind(1, arn).bind(2, try r.body(dropping: []))
            try s.run()
            if c.changes == 1 { return true }
            let q = try c.prepare("SELECT body FROM user_profiles WHERE iam_user_arn=?")
            q.bind(1, arn)
            defer { q.reset() }
            _ = try q.step()
            let stored = try JSON.loads(q.string(0) ?? "{}")
            defer { cjansson_decref(stored) }
            return try same(r, stored)
        case .permissions:
            let stack = try r.id("StackId")
            let arn = try r.required("IamUserArn")
            try parent(c, known, r, .stack, stack)
            let level = try r.string("Level") ?? "iam_only"
            guard Level(name: level) != nil else { throw r.fail("Level \(level) is not a permission level") }
            let ssh = try r.boolean("AllowSsh") ?? false, sudo = try r.boolean("AllowSudo") ?? false
            let s = try c.prepare("""
                INSERT OR IGNORE INTO permissions(stack_id, iam_user_arn, level, allow_ssh, allow_sudo, change_seq)
                VALUES(?,?,?,?,?,?)
                """)
            s.bind(1, stack).bind(2, arn).bind(3, level).bind(4, ssh ? 1 : 0).bind(5, sudo ? 1 : 0).bind(6, change)
            try s.run()
            if c.changes == 1 { return true }
            let q = try c.prepare("SELECT level, allow_ssh, allow_sudo FROM permissions WHERE stack_id=? AND iam_user_arn=?")
            q.bind(1, stack).bind(2, arn)
            defer { q.reset() }
            _ = try q.step()
            if q.string(0) == level && (q.int(1) != 0) == ssh && (q.int(2) != 0) == sudo { return false }
            throw r.fail("conflicts with the stored permission (Level \(q.string(0) ?? ""), AllowSsh \(q.int(1) != 0), AllowSudo \(q.int(2) != 0)); nothing was imported")
        case .deployments:
            return try addDeployment(c, change, known, r)
        case .commands:
            return try addCommand(c, known, r)
        }
    }

    private func addDeployment(_ c: Connection, _ change: Int64, _ known: KnownParents, _ r: ImportRecord) throws -> Bool {
        let id = try r.id("DeploymentId")
        let stack = try r.id("StackId")
        try parent(c, known, r, .stack, stack)
        let app = try r.optionalID("AppId")
        if let app { try parent(c, known, r, .app, app, stack: stack) }
        guard let created = try r.time("CreatedAt") else { throw r.fail("wrong shape: CreatedAt is missing") }
        let completed = try r.time("CompletedAt")
        if let d = try r.integer("Duration") {
            guard let completed, completed - created == d else {
                throw r.fail("Duration \(d) is not CompletedAt - CreatedAt\(completed.map { " (\($0 - created))" } ?? " (no CompletedAt)")")
            }
        }
        let statusName = try r.required("Status")
        guard let status = [DeploymentStatus.running, .successful, .failed].first(where: { $0.name.description == statusName }) else {
            throw r.fail("Status \(statusName) is none of running, successful, failed")
        }
        if status == .running && completed != nil { throw r.fail("a running deployment has a CompletedAt") }
        if status != .running && completed == nil { throw r.fail("a \(statusName) deployment has no CompletedAt") }
        guard let command = json_object_get(r.json, "Command"), cjansson_typeof(command) == Int32(JSON_OBJECT.rawValue) else {
            throw r.fail("wrong shape: Command is missing or not an object")
        }
        guard let nameValue = json_object_get(command, "Name"), cjansson_typeof(nameValue) == Int32(JSON_STRING.rawValue),
              let name = CommandName(name: String(cString: json_string_value(nameValue))) else {
            throw r.fail("Command.Name is missing or not an OpsWorks command")
        }
        var args: [(String, [String])] = []
        if let a = json_object_get(command, "Args") {
            guard cjansson_typeof(a) == Int32(JSON_OBJECT.rawValue) else { throw r.fail("wrong shape: Command.Args is not a map") }
            var it = json_object_iter(a)
            while let i = it {
                let key = String(cString: json_object_iter_key(i))
                let list = json_object_iter_value(i)
                guard cjansson_typeof(list) == Int32(JSON_ARRAY.rawValue) else { throw r.fail("wrong shape: Command.Args.\(key) is not a list") }
                var values: [String] = []
                for j in 0..<json_array_size(list) {
                    let v = json_array_get(list, j)
                    guard cjansson_typeof(v) == Int32(JSON_STRING.rawValue), let s = JSON.validString(json_string_value(v), json_string_length(v)) else {
                        throw r.fail("wrong shape: Command.Args.\(key) holds a \(JSON.typeName(v))")
                    }
                    values.append(s)
                }
                args.append((key, values))
                it = json_object_iter_next(a, i)
            }
        }
        let instances = try r.strings("InstanceIds")
        let d = try c.prepare(Store.insertDeployment)
        d.bind(1, id).bind(2, stack).bind(3, app).bind(4, created).bind(5, completed)
        d.bind(6, Int64(status.rawValue)).bind(7, Int64(name.rawValue))
        let blob = ArgsBlob.encode(args)
        blob.withUnsafeBytes { _ = d.bind(8, bytes: $0) }
        d.bind(9, instances.joined(separator: ",")).bind(10, try r.string("IamUserArn"))
        d.bind(11, try r.string("Comment")).bind(12, try r.string("CustomJson")).bind(13, change)
        return try inserted(c, d, r, kind: .deployment, id: id)
    }

    private func addCommand(_ c: Connection, _ known: KnownParents, _ r: ImportRecord) throws -> Bool {
        let id = try r.id("CommandId")
        let deployment = try r.id("DeploymentId")
        let instance = try r.id("InstanceId")
        let q = try c.prepare("SELECT seq, stack_id FROM deployments WHERE id=?")
        q.bind(1, deployment)
        guard try q.step() else {
            q.reset()
            throw r.fail("its deployment \(deployment) is neither in the store nor in the files")
        }
        let seq = q.int(0), stack = q.string(1) ?? ""
        q.reset()
        try parent(c, known, r, .instance, instance, stack: stack)
        guard let created = try r.time("CreatedAt") else { throw r.fail("wrong shape: CreatedAt is missing") }
        let status = try r.required("Status")
        let s = try c.prepare(Store.insertCommand)
        s.bind(1, id).bind(2, seq).bind(3, deployment).bind(4, stack).bind(5, instance).bind(6, created)
        s.bind(7, try r.time("AcknowledgedAt")).bind(8, try r.time("CompletedAt")).bind(9, status)
        s.bind(10, try r.integer("ExitCode")).bind(11, try r.string("LogUrl")).bind(12, try r.required("Type"))
        return try inserted(c, s, r, kind: .command, id: id)
    }

    /// Runs an INSERT OR IGNORE: true when added; false when an equal record is stored;
    /// throws when the stored one differs.
    private func inserted(_ c: Connection, _ s: Statement, _ r: ImportRecord, kind: Resource, id: String) throws -> Bool {
        try s.run()
        if c.changes == 1 { return true }
        let stored = try storedAnswer(c, kind, id, r)
        defer { cjansson_decref(stored) }
        return try same(r, stored, resource: kind)
    }

    /// Equal to the stored record as stored or as an export without secrets shows it.
    private func same(_ r: ImportRecord, _ stored: UnsafeMutablePointer<json_t>, resource: Resource? = nil) throws -> Bool {
        let mine = try r.normalized()
        defer { cjansson_decref(mine) }
        if json_equal(mine, stored) != 0 { return false }
        if let resource {
            _ = Secrets.filter(stored, resource)
            if json_equal(mine, stored) != 0 { return false }
        }
        throw r.fail("conflicts with the record of the same ID in the store (they differ); nothing was imported")
    }

    /// The stored record as its Describe call answers it, secrets included.
    private func storedAnswer(_ c: Connection, _ kind: Resource, _ id: String, _ r: ImportRecord) throws -> UnsafeMutablePointer<json_t> {
        switch kind {
        case .deployment:
            let s = try c.prepare(Engine.deploymentColumns + " WHERE id=?")
            s.bind(1, id)
            defer { s.reset() }
            guard try s.step() else { throw r.fail("ID taken in another table") }
            guard let j = try Engine.deploymentRecord(s).json() else { throw OwdError.outOfMemory }
            return j
        case .command:
            let s = try c.prepare(Store.commandColumns + " WHERE id=?")
            s.bind(1, id)
            defer { s.reset() }
            guard try s.step() else { throw r.fail("ID taken in another table") }
            return try commandJSON(s)
        default:
            let table = [Resource.stack: "stacks", .layer: "layers", .app: "apps", .instance: "instances"][kind]!
            let resource: ResourceKind = [Resource.stack: ResourceKind.stack, .layer: .layer, .app: .app, .instance: .instance][kind]!
            let stackColumn = kind == .stack ? "id" : "stack_id"
            let s = try c.prepare("SELECT id, \(stackColumn), created_at, body, seq\(kind == .instance ? ", status" : "") FROM \(table) WHERE id=?")
            s.bind(1, id)
            defer { s.reset() }
            guard try s.step() else { throw r.fail("ID taken in another table") }
            return try resourceJSON(resource, s, filtered: false)
        }
    }

    /// The page cache of an import's transaction, KiB.
    static let importCacheKiB = 262_144

    static let insertDeployment = """
        INSERT OR IGNORE INTO deployments(id, stack_id, app_id, created_at, completed_at, status, command, args,
            instance_ids, iam_user_arn, comment, custom_json, pending, change_seq)
        VALUES(?,?,?,?,?,?,?,?,?,?,?,?,0,?)
        """
    static let insertCommand = """
        INSERT OR IGNORE INTO commands(id, deployment_seq, deployment_id, stack_id, instance_id, created_at,
            acknowledged_at, completed_at, status, exit_code, log_url, type) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)
        """

    /// A parent must be in the store (or added earlier in this import: files go in parent
    /// order), and of the record's stack.
    private func parent(_ c: Connection, _ known: KnownParents, _ r: ImportRecord, _ kind: Resource, _ id: String, stack: String? = nil) throws {
        guard let owner = try parentStack(c, known, kind, id) else {
            throw r.fail("its \(kind.rawValue) \(id) is neither in the store nor in the files")
        }
        if let stack, owner != stack {
            throw r.fail("its \(kind.rawValue) \(id) belongs to stack \(owner), not \(stack)")
        }
    }

    /// `parent` without its refusal, for the fast path: false where `parent` refuses.
    func knownParent(_ c: Connection, _ known: KnownParents, _ kind: Resource, _ id: String, stack: String?) throws -> Bool {
        guard let owner = try parentStack(c, known, kind, id) else { return false }
        return stack == nil || owner == stack
    }

    /// The stack of a parent (a stack: its own ID), or nil when it is neither in the store
    /// nor added by this import so far.
    private func parentStack(_ c: Connection, _ known: KnownParents, _ kind: Resource, _ id: String) throws -> String? {
        if let owner = known.stacks[kind]?[id] { return owner }
        let table = [Resource.stack: "stacks", .layer: "layers", .app: "apps", .instance: "instances", .deployment: "deployments"][kind]!
        let s = try c.prepare(kind == .stack ? "SELECT id FROM stacks WHERE id=?" : "SELECT stack_id FROM \(table) WHERE id=?")
        s.bind(1, id)
        defer { s.reset() }
        guard try s.step() else { return nil }
        let owner = s.string(0) ?? ""
        // Stacks, layers, apps and instances are few: remembered (deployments are not).
        if kind != .deployment, known.count < 100_000 {
            known.stacks[kind, default: [:]][id] = owner
            known.count += 1
        }
        return owner
    }
}

/// The parents found so far in one import (never deleted during it): ID -> its stack.
final class KnownParents {
    var stacks: [Resource: [String: String]] = [:]
    var count = 0
}

// MARK: - Export

extension Store {
    /// `owd export`: writes every record as the describe outputs (one file per kind, in
    /// creation order), secrets filtered unless `withSecrets`. Returns file -> record count.
    /// Files are written as `NAME.tmp` then renamed, so a failed export leaves no half file.
    @discardableResult
    public func export(to directory: String, withSecrets: Bool = false) throws -> [(String, Int)] {
        try checkTransferCaller("Export")
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw OwdError.invalidArgument("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        var written: [(String, Int)] = []
        try engine.read { c in
            for kind in TransferKind.allCases {
                let path = directory + "/" + kind.fileName
                let count = try writeList(path, kind.listKey) { emit in
                    try exportRecords(c, kind, withSecrets: withSecrets, emit)
                }
                written.append((path, count))
            }
        }
        return written
    }

    private func exportRecords(_ c: Connection, _ kind: TransferKind, withSecrets: Bool,
                               _ emit: (UnsafeMutablePointer<json_t>) throws -> Void) throws {
        func each(_ sql: String, _ make: (Statement) throws -> UnsafeMutablePointer<json_t>) throws {
            let s = try c.prepare(sql)
            defer { s.reset() }
            while try s.step() {
                let j = try make(s)
                defer { cjansson_decref(j) }
                try emit(j)
            }
        }
        switch kind {
        case .stacks, .layers, .apps, .instances:
            let resource: ResourceKind = [TransferKind.stacks: ResourceKind.stack, .layers: .layer, .apps: .app, .instances: .instance][kind]!
            let stackColumn = kind == .stacks ? "id" : "stack_id"
            try each("SELECT id, \(stackColumn), created_at, body, seq\(kind == .instances ? ", status" : "") FROM \(resource.table) ORDER BY seq") {
                try resourceJSON(resource, $0, filtered: !withSecrets)
            }
        case .userProfiles:
            try each("SELECT body FROM user_profiles ORDER BY seq") { try JSON.loads($0.string(0) ?? "{}") }
        case .permissions:
            try each("SELECT stack_id, iam_user_arn, allow_ssh, allow_sudo, level FROM permissions ORDER BY seq") { s in
                try Store.json(.object([
                    ("StackId", .string(s.string(0) ?? "")), ("IamUserArn", .string(s.string(1) ?? "")),
                    ("AllowSsh", .boolean(s.int(2) != 0)), ("AllowSudo", .boolean(s.int(3) != 0)),
                    ("Level", .string(s.string(4) ?? "")),
                ]))
            }
        case .deployments:
            try each(Engine.deploymentColumns + " ORDER BY seq") { s in
                guard let j = try Engine.deploymentRecord(s).json() else { throw OwdError.outOfMemory }
                return j
            }
        case .commands:
            try each(Store.commandColumns + " ORDER BY seq") { try commandJSON($0) }
        }
    }

    /// Writes `{"Key": [...]}` with one record per line, through a temporary file.
    private func writeList(_ path: String, _ key: String,
                           _ records: ((UnsafeMutablePointer<json_t>) throws -> Void) throws -> Void) throws -> Int {
        let tmp = path + ".tmp"
        guard let f = fopen(tmp, "w") else { throw OwdError.invalidArgument("cannot write \(tmp): \(String(cString: strerror(errno)))") }
        var count = 0
        do {
            fputs("{\"\(key)\": [", f)
            try records { j in
                guard let text = json_dumps(j, Int(JSON_COMPACT)) else { throw OwdError.outOfMemory }
                defer { JSON.free(text) }
                fputs(count == 0 ? "\n" : ",\n", f)
                fputs(text, f)
                count += 1
            }
            fputs(count == 0 ? "]}\n" : "\n]}\n", f)
            guard fflush(f) == 0, fsync(fileno(f)) == 0 else {
                throw OwdError.invalidArgument("cannot write \(tmp): \(String(cString: strerror(errno)))")
            }
        } catch {
            fclose(f)
            unlink(tmp)
            throw error
        }
        fclose(f)
        guard rename(tmp, path) == 0 else { throw OwdError.invalidArgument("cannot write \(path): \(String(cString: strerror(errno)))") }
        return count
    }
}
