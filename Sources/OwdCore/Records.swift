import CJansson
#if canImport(Glibc)
import Glibc
#endif

public enum DeploymentStatus: UInt8, Sendable {
    case running = 0, successful = 1, failed = 2

    public var name: StaticString {
        switch self {
        case .running: return "running"
        case .successful: return "successful"
        case .failed: return "failed"
        }
    }
}

public enum CommandName: UInt8, CaseIterable, Sendable {
    case installDependencies = 0, updateDependencies, updateCustomCookbooks, executeRecipes, configure, setup
    case deploy, rollback, start, stop, restart, undeploy

    public var name: StaticString {
        switch self {
        case .installDependencies: return "install_dependencies"
        case .updateDependencies: return "update_dependencies"
        case .updateCustomCookbooks: return "update_custom_cookbooks"
        case .executeRecipes: return "execute_recipes"
        case .configure: return "configure"
        case .setup: return "setup"
        case .deploy: return "deploy"
        case .rollback: return "rollback"
        case .start: return "start"
        case .stop: return "stop"
        case .restart: return "restart"
        case .undeploy: return "undeploy"
        }
    }

    public init?(name: String) {
        guard let c = CommandName.allCases.first(where: { $0.name.description == name }) else { return nil }
        self = c
    }

    /// App commands need an AppId; stack commands refuse one.
    public var isAppCommand: Bool { rawValue >= CommandName.deploy.rawValue }
}

@inline(__always)
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// Command.Args as stored: a compact blob (u32 count, then per key: u32 length, bytes,
/// u32 value count, per value: u32 length, bytes), decoded without allocation when a
/// record is built.
enum ArgsBlob {
    static func encode(_ args: [(String, [String])]) -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
        u32(args.count)
        for (k, values) in args {
            u32(k.utf8.count); out.append(contentsOf: k.utf8)
            u32(values.count)
            for v in values { u32(v.utf8.count); out.append(contentsOf: v.utf8) }
        }
        return out
    }

    /// Calls `key` for each key with its value count, and `value` for each value.
    static func walk(_ blob: UnsafeBufferPointer<UInt8>?, key: (UnsafeBufferPointer<UInt8>, Int) -> Void,
                     value: (UnsafeBufferPointer<UInt8>) -> Void) {
        guard let blob, let base = blob.baseAddress, blob.count >= 4 else { return }
        var at = 0
        func u32() -> Int {
            guard at + 4 <= blob.count else { at = blob.count; return 0 }
            let v = UnsafeRawPointer(base + at).loadUnaligned(as: UInt32.self)
            at += 4
            return Int(UInt32(littleEndian: v))
        }
        func bytes(_ n: Int) -> UnsafeBufferPointer<UInt8> {
            let n = min(n, blob.count - at)
            defer { at += n }
            return UnsafeBufferPointer(start: base + at, count: n)
        }
        let count = u32()
        for _ in 0..<count where at < blob.count {
            let k = bytes(u32())
            let n = u32()
            key(k, n)
            for _ in 0..<n { value(bytes(u32())) }
        }
    }
}

/// A deployment's columns, borrowed from a SQLite row while a record is built.
struct DeploymentRow {
    var seq: Int64 = 0
    var changeSeq: Int64 = 0
    var createdAt: Int64 = 0
    var completedAt: Int64? = nil
    var status: DeploymentStatus = .running
    var command: CommandName = .deploy
    var id: UnsafeBufferPointer<UInt8>? = nil
    var stackId: UnsafeBufferPointer<UInt8>? = nil
    var appId: UnsafeBufferPointer<UInt8>? = nil
    var iamUserArn: UnsafeBufferPointer<UInt8>? = nil
    var comment: UnsafeBufferPointer<UInt8>? = nil
    var customJson: UnsafeBufferPointer<UInt8>? = nil
    var args: UnsafeBufferPointer<UInt8>? = nil
    /// Instance IDs joined by commas (IDs never hold one).
    var instanceIds: UnsafeBufferPointer<UInt8>? = nil
}

/// One deployment, immutable, holding every string ready for C (NUL-terminated, in one
/// allocation) so that answering is a walk plus jansson calls, and a handle list is an
/// array of retained records.
public final class DeploymentRecord {
    // Slots of the fixed strings in the table at the start of `base`.
    static let slotID = 0, slotStack = 1, slotApp = 2, slotCreated = 3, slotCompleted = 4
    static let slotArn = 5, slotComment = 6, slotCustomJson = 7
    static let fixedSlots = 8
    static let absent = UInt32.max
    // Word offsets in the table.
    static let wordInstanceCount = 16, wordArgCount = 17, wordFirstInstance = 18

    public let seq: Int64
    public let changeSeq: Int64
    public let createdAt: Int64
    /// -1 while running.
    public let completedAt: Int64
    public let status: DeploymentStatus
    public let command: CommandName
    let key: UUIDKey
    let stackKey: UUIDKey
    let appKey: UUIDKey?
    let size: Int
    /// The table (UInt32 words) then the strings.
    let base: UnsafeMutableRawPointer

    private init(seq: Int64, changeSeq: Int64, createdAt: Int64, completedAt: Int64, status: DeploymentStatus,
                 command: CommandName, key: UUIDKey, stackKey: UUIDKey, appKey: UUIDKey?, size: Int,
                 base: UnsafeMutableRawPointer) {
        self.seq = seq
        self.changeSeq = changeSeq
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.status = status
        self.command = command
        self.key = key
        self.stackKey = stackKey
        self.appKey = appKey
        self.size = size
        self.base = base
    }

    deinit { free(base) }

    /// Builds a record from a row; nil when memory runs out or the row is not a deployment.
    static func make(_ row: DeploymentRow) -> DeploymentRecord? {
        guard let id = row.id, let stack = row.stackId,
              let key = UUIDKey.parse(id), let sk = UUIDKey.parse(stack) else { return nil }
        let appKey = row.appId.flatMap { UUIDKey.parse($0) }

        // Pass 1: sizes.
        var instanceCount = 0
        if let ids = row.instanceIds, ids.count > 0 {
            instanceCount = 1 + ids.reduce(0) { $0 + ($1 == 44 ? 1 : 0) }
        }
        var argCount = 0, valueCount = 0, argBytes = 0
        ArgsBlob.walk(row.args, key: { k, _ in argCount += 1; argBytes += k.count + 1 },
                      value: { v in valueCount += 1; argBytes += v.count + 1 })
        let words = wordFirstInstance + 2 * instanceCount + 4 * argCount + 2 * valueCount
        var bytes = words * 4
        for s in [row.id, row.stackId, row.appId, row.iamUserArn, row.comment, row.customJson] {
            if let s { bytes += s.count + 1 }
        }
        bytes += 2 * (Timestamp.length + 1)              // CreatedAt, CompletedAt (reserved)
        bytes += instanceCount > 0 ? row.instanceIds!.count + 1 : 0
        bytes += argBytes
        guard let base = malloc(bytes) else { return nil }

        // Pass 2: write.
        let table = base.bindMemory(to: UInt32.self, capacity: words)
        let chars = base.assumingMemoryBound(to: UInt8.self)
        var at = words * 4
        func put(_ s: UnsafeBufferPointer<UInt8>) -> (UInt32, UInt32) {
            let offset = at
            if s.count > 0 { (chars + at).update(from: s.baseAddress!, count: s.count) }
            chars[at + s.count] = 0
            at += s.count + 1
            return (UInt32(offset), UInt32(s.count))
        }
        func slot(_ i: Int, _ s: UnsafeBufferPointer<UInt8>?) {
            if let s {
                let (o, n) = put(s)
                table[2 * i] = o; table[2 * i + 1] = n
            } else {
                table[2 * i] = absent; table[2 * i + 1] = 0
            }
        }
        slot(slotID, row.id)
        slot(slotStack, row.stackId)
        slot(slotApp, row.appId)
        slot(slotArn, row.iamUserArn)
        slot(slotComment, row.comment)
        slot(slotCustomJson, row.customJson)
        table[2 * slotCreated] = UInt32(at); table[2 * slotCreated + 1] = UInt32(Timestamp.length)
        Timestamp.write(row.createdAt, to: chars + at)
        chars[at + Timestamp.length] = 0
        at += Timestamp.length + 1
        if let completed = row.completedAt {
            table[2 * slotCompleted] = UInt32(at); table[2 * slotCompleted + 1] = UInt32(Timestamp.length)
            Timestamp.write(completed, to: chars + at)
        } else {
            table[2 * slotCompleted] = absent; table[2 * slotCompleted + 1] = 0
        }
        chars[at + Timestamp.length] = 0
        at += Timestamp.length + 1

        table[wordInstanceCount] = UInt32(instanceCount)
        table[wordArgCount] = UInt32(argCount)
        if instanceCount > 0, let ids = row.instanceIds {
            // Copy once, then cut at the commas.
            let (offset, _) = put(ids)
            var start = Int(offset), i = 0
            for j in Int(offset)...(Int(offset) + ids.count) where chars[j] == 44 || chars[j] == 0 {
                chars[j] = 0
                table[wordFirstInstance + 2 * i] = UInt32(start)
                table[wordFirstInstance + 2 * i + 1] = UInt32(j - start)
                i += 1
                start = j + 1
            }
        }
        var argWord = wordFirstInstance + 2 * instanceCount
        var valueWord = argWord + 4 * argCount
        ArgsBlob.walk(row.args, key: { k, n in
            let (o, len) = put(k)
            table[argWord] = o; table[argWord + 1] = len
            table[argWord + 2] = UInt32(valueWord); table[argWord + 3] = UInt32(n)
            argWord += 4
        }, value: { v in
            let (o, len) = put(v)
            table[valueWord] = o; table[valueWord + 1] = len
            valueWord += 2
        })
        return DeploymentRecord(seq: row.seq, changeSeq: row.changeSeq, createdAt: row.createdAt,
                                completedAt: row.completedAt ?? -1, status: row.status, command: row.command,
                                key: key, stackKey: sk, appKey: appKey, size: bytes, base: base)
    }

    /// Hints the CPU to fetch the strings json() will read (the first 512 bytes).
    @inline(__always)
    func prefetchStrings() {
        var offset = 0
        let end = min(size, 512)
        while offset < end {
            cjansson_prefetch(base + offset)
            offset += 64
        }
    }

    @inline(__always)
    private var table: UnsafePointer<UInt32> { UnsafePointer(base.assumingMemoryBound(to: UInt32.self)) }

    @inline(__always)
    private func chars(_ offset: UInt32) -> UnsafePointer<CChar> {
        UnsafePointer((base + Int(offset)).assumingMemoryBound(to: CChar.self))
    }

    /// The string of a fixed slot, or nil when absent.
    @inline(__always)
    public func string(slot: Int) -> UnsafePointer<CChar>? {
        let o = table[2 * slot]
        return o == DeploymentRecord.absent ? nil : chars(o)
    }

    public var id: UnsafePointer<CChar> { string(slot: DeploymentRecord.slotID)! }
    public var idString: String { String(cString: id) }
    public var duration: Int64 { completedAt < 0 ? -1 : completedAt - createdAt }
    public var instanceCount: Int { Int(table[DeploymentRecord.wordInstanceCount]) }
    public var argCount: Int { Int(table[DeploymentRecord.wordArgCount]) }

    public func instanceID(_ i: Int) -> UnsafePointer<CChar>? {
        guard i >= 0, i < instanceCount else { return nil }
        return chars(table[DeploymentRecord.wordFirstInstance + 2 * i])
    }

    private func argWord(_ i: Int) -> Int { DeploymentRecord.wordFirstInstance + 2 * instanceCount + 4 * i }

    public func argName(_ i: Int) -> UnsafePointer<CChar>? {
        guard i >= 0, i < argCount else { return nil }
        return chars(table[argWord(i)])
    }

    public func argValueCount(_ i: Int) -> Int {
        guard i >= 0, i < argCount else { return 0 }
        return Int(table[argWord(i) + 3])
    }

    public func argValue(_ i: Int, _ j: Int) -> UnsafePointer<CChar>? {
        guard j >= 0, j < argValueCount(i) else { return nil }
        return chars(table[Int(table[argWord(i) + 2]) + 2 * j])
    }

    /// The deployment as JSON text, member for member what `json()` builds and jansson
    /// would write (compact), straight from the record.
    func write(_ out: inout JSONText) {
        let t = table
        @inline(__always) func quoted(_ w: Int) {   // IDs and timestamps: nothing to escape
            out.byte(34)
            out.raw(UnsafeRawPointer(chars(t[w])).assumingMemoryBound(to: UInt8.self), Int(t[w + 1]))
            out.byte(34)
        }
        @inline(__always) func escaped(_ w: Int) { out.string(chars(t[w]), Int(t[w + 1])) }
        @inline(__always) func present(_ slot: Int) -> Bool { t[2 * slot] != DeploymentRecord.absent }
        out.raw("{\"DeploymentId\":")
        quoted(2 * DeploymentRecord.slotID)
        out.raw(",\"StackId\":")
        quoted(2 * DeploymentRecord.slotStack)
        if present(DeploymentRecord.slotApp) {
            out.raw(",\"AppId\":")
            quoted(2 * DeploymentRecord.slotApp)
        }
        out.raw(",\"CreatedAt\":")
        quoted(2 * DeploymentRecord.slotCreated)
        if completedAt >= 0 {
            out.raw(",\"CompletedAt\":")
            quoted(2 * DeploymentRecord.slotCompleted)
            out.raw(",\"Duration\":")
            out.integer(completedAt - createdAt)
        }
        if present(DeploymentRecord.slotArn) {
            out.raw(",\"IamUserArn\":")
            escaped(2 * DeploymentRecord.slotArn)
        }
        if present(DeploymentRecord.slotComment) {
            out.raw(",\"Comment\":")
            escaped(2 * DeploymentRecord.slotComment)
        }
        if present(DeploymentRecord.slotCustomJson) {
            out.raw(",\"CustomJson\":")
            escaped(2 * DeploymentRecord.slotCustomJson)
        }
        out.raw(",\"Command\":{\"Name\":\"")
        out.raw(command.name)
        out.raw("\",\"Args\":{")
        let argCount = Int(t[DeploymentRecord.wordArgCount])
        var w = DeploymentRecord.wordFirstInstance + 2 * Int(t[DeploymentRecord.wordInstanceCount])
        for a in 0..<argCount {
            if a > 0 { out.byte(44) }
            escaped(w)
            out.raw(":[")
            var v = Int(t[w + 2])
            for j in 0..<Int(t[w + 3]) {
                if j > 0 { out.byte(44) }
                escaped(v)
                v += 2
            }
            out.byte(93)
            w += 4
        }
        out.raw("}},\"Status\":\"")
        out.raw(status.name)
        out.raw("\",\"InstanceIds\":[")
        w = DeploymentRecord.wordFirstInstance
        for i in 0..<Int(t[DeploymentRecord.wordInstanceCount]) {
            if i > 0 { out.byte(44) }
            quoted(w)
            w += 2
        }
        out.raw("]}")
    }

    /// The deployment as DescribeDeployments answers it (new reference), built straight
    /// from the record: no intermediate Swift values. nil when memory ran out.
    public func json() -> UnsafeMutablePointer<json_t>? {
        guard let object = json_object() else { return nil }
        let t = table
        var failed: Int32 = 0
        @inline(__always) func str(_ w: Int) -> UnsafeMutablePointer<json_t>? {
            json_stringn_nocheck(chars(t[w]), Int(t[w + 1]))
        }
        @inline(__always) func member(_ name: StaticString, _ slot: Int) {
            if t[2 * slot] != DeploymentRecord.absent {
                failed |= json_object_set_new_nocheck(object, cString(name), str(2 * slot))
            }
        }
        member("DeploymentId", DeploymentRecord.slotID)
        member("StackId", DeploymentRecord.slotStack)
        member("AppId", DeploymentRecord.slotApp)
        member("CreatedAt", DeploymentRecord.slotCreated)
        if completedAt >= 0 {
            member("CompletedAt", DeploymentRecord.slotCompleted)
            failed |= json_object_set_new_nocheck(object, cString("Duration"), json_integer(json_int_t(completedAt - createdAt)))
        }
        member("IamUserArn", DeploymentRecord.slotArn)
        member("Comment", DeploymentRecord.slotComment)
        member("CustomJson", DeploymentRecord.slotCustomJson)

        let command = json_object()
        let name = self.command.name
        failed |= json_object_set_new_nocheck(command, cString("Name"), json_stringn_nocheck(cString(name), name.utf8CodeUnitCount))
        let args = json_object()
        let argCount = Int(t[DeploymentRecord.wordArgCount])
        if argCount > 0 {
            var w = DeploymentRecord.wordFirstInstance + 2 * Int(t[DeploymentRecord.wordInstanceCount])
            for _ in 0..<argCount {
                let values = json_array()
                var v = Int(t[w + 2])
                for _ in 0..<Int(t[w + 3]) {
                    failed |= json_array_append_new(values, str(v))
                    v += 2
                }
                failed |= json_object_setn_new_nocheck(args, chars(t[w]), Int(t[w + 1]), values)
                w += 4
            }
        }
        failed |= json_object_set_new_nocheck(command, cString("Args"), args)
        failed |= json_object_set_new_nocheck(object, cString("Command"), command)
        let status = self.status.name
        failed |= json_object_set_new_nocheck(object, cString("Status"), json_stringn_nocheck(cString(status), status.utf8CodeUnitCount))
        let instances = json_array()
        var w = DeploymentRecord.wordFirstInstance
        for _ in 0..<Int(t[DeploymentRecord.wordInstanceCount]) {
            failed |= json_array_append_new(instances, str(w))
            w += 2
        }
        failed |= json_object_set_new_nocheck(object, cString("InstanceIds"), instances)
        if failed != 0 {
            cjansson_decref(object)
            return nil
        }
        return object
    }
}
