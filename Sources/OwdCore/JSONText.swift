import CJansson
#if canImport(Glibc)
import Glibc
#endif

/// Compact JSON text in one growing malloc'd buffer, byte for byte what jansson's
/// `json_dumps(..., JSON_COMPACT)` writes. DescribeDeployments answers as text straight
/// from its records through it, without building jansson values first; the text belongs
/// to the caller, who frees it with `free` (owd_free).
public struct JSONText {
    public private(set) var base: UnsafeMutablePointer<UInt8>?
    public private(set) var count = 0
    private var capacity = 0

    /// Set once memory ran out: everything after is dropped and `take` answers nil.
    private var broken = false

    public init(capacity: Int = 256) {
        reserve(capacity)
    }

    /// Hands the NUL-terminated text over to the caller; nil when memory ran out.
    public mutating func take() -> UnsafeMutablePointer<CChar>? {
        guard reserve(count + 1), let b = base else { release(); return nil }
        b[count] = 0
        base = nil
        count = 0
        capacity = 0
        return UnsafeMutableRawPointer(b).assumingMemoryBound(to: CChar.self)
    }

    public mutating func release() {
        free(base)
        base = nil
        count = 0
        capacity = 0
    }

    @discardableResult
    mutating func reserve(_ n: Int) -> Bool {
        if n <= capacity { return true }
        if broken { return false }
        var c = Swift.max(capacity, 64)
        while c < n { c *= 2 }
        guard let p = realloc(base, c) else {
            free(base)
            base = nil
            capacity = 0
            broken = true
            return false
        }
        base = p.assumingMemoryBound(to: UInt8.self)
        capacity = c
        return true
    }

    @inline(__always)
    mutating func byte(_ b: UInt8) {
        guard count < capacity || reserve(count + 1) else { return }
        base![count] = b
        count += 1
    }

    @inline(__always)
    mutating func raw(_ p: UnsafePointer<UInt8>, _ n: Int) {
        guard count + n <= capacity || reserve(count + n) else { return }
        (base! + count).update(from: p, count: n)
        count += n
    }

    @inline(__always)
    mutating func raw(_ s: StaticString) {
        raw(s.utf8Start, s.utf8CodeUnitCount)
    }

    /// A JSON string, escaped as jansson escapes it.
    mutating func string(_ p: UnsafePointer<UInt8>, _ n: Int) {
        guard count + n + 2 <= capacity || reserve(count + n + 2) else { return }
        base![count] = 34
        count += 1
        var start = 0
        for i in 0..<n {
            let c = p[i]
            if c >= 0x20 && c != 34 && c != 92 { continue }
            if i > start { raw(p + start, i - start) }
            start = i + 1
            switch c {
            case 34: raw("\\\"")
            case 92: raw("\\\\")
            case 8: raw("\\b")
            case 12: raw("\\f")
            case 10: raw("\\n")
            case 13: raw("\\r")
            case 9: raw("\\t")
            default:
                let hex: StaticString = "0123456789ABCDEF"   // jansson writes upper case
                raw("\\u00")
                byte(hex.utf8Start[Int(c >> 4)])
                byte(hex.utf8Start[Int(c & 15)])
            }
        }
        if n > start { raw(p + start, n - start) }
        byte(34)
    }

    mutating func string(_ p: UnsafePointer<CChar>, _ n: Int) {
        string(UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), n)
    }

    mutating func string(_ s: StaticString) {
        string(s.utf8Start, s.utf8CodeUnitCount)
    }

    mutating func integer(_ v: Int64) {
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes: enough for any Int64
        withUnsafeMutableBytes(of: &buffer) { raw in
            let b = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var i = 24
            var m = v.magnitude
            repeat {
                i -= 1
                b[i] = UInt8(48 + m % 10)
                m /= 10
            } while m > 0
            if v < 0 { i -= 1; b[i] = 45 }
            self.raw(b + i, 24 - i)
        }
    }

    /// Any jansson value (objects in their insertion order, as jansson writes them).
    public mutating func value(_ json: UnsafePointer<json_t>) {
        switch cjansson_typeof(json) {
        case Int32(JSON_OBJECT.rawValue):
            byte(123)
            let object = UnsafeMutablePointer(mutating: json)
            var iter = json_object_iter(object)
            var first = true
            while let it = iter {
                if !first { byte(44) }
                first = false
                string(json_object_iter_key(it), json_object_iter_key_len(it))
                byte(58)
                value(json_object_iter_value(it))
                iter = json_object_iter_next(object, it)
            }
            byte(125)
        case Int32(JSON_ARRAY.rawValue):
            byte(91)
            for i in 0..<json_array_size(json) {
                if i > 0 { byte(44) }
                value(json_array_get(json, i))
            }
            byte(93)
        case Int32(JSON_STRING.rawValue):
            string(json_string_value(json), json_string_length(json))
        case Int32(JSON_INTEGER.rawValue):
            integer(Int64(json_integer_value(json)))
        case Int32(JSON_REAL.rawValue):
            // Rare in owd's answers (none hold a real): let jansson format it.
            if let text = json_dumps(json, Int(JSON_ENCODE_ANY)) {
                raw(UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), strlen(text))
                JSON.free(text)
            }
        case Int32(JSON_TRUE.rawValue): raw("true")
        case Int32(JSON_FALSE.rawValue): raw("false")
        default: raw("null")
        }
    }
}

extension Store {
    /// THE JSON-text entry point: an operation by its AWS name and its request as UTF-8 JSON
    /// text in, the response as compact JSON text out (malloc'd, NUL-terminated, for
    /// `free`/`owd_free`), or an `OwdError`. owd_call_json, `call(_:json:)` (the tests and
    /// Swift callers), the Python client and bridge and the HTTP server all enter here.
    ///
    /// The rule for the text: absent (nil) or empty text means `{}`. Text longer than
    /// `Limits.requestText` is a ValidationException, refused before parsing. Text that is
    /// not one JSON value (a syntax error, trailing text, invalid UTF-8, `\u0000`, a
    /// duplicated key, nesting past jansson's limit) is `invalidArgument` ("request is not
    /// valid JSON: ..."). JSON that is not an object (`[]`, `"x"`, `1`, `true`, `null`) is
    /// a ValidationException, "The request must be a JSON object, not <type>", exactly as
    /// owd_call answers such a json_t.
    public func callJSON(_ operation: String, _ text: UnsafeRawBufferPointer?) throws -> UnsafeMutablePointer<CChar> {
        guard let text, text.count > 0, let base = text.baseAddress else { return try callText(operation, nil) }
        if text.count > Limits.requestText {
            throw OwdError.validation("request text is longer than \(Limits.requestText) bytes")
        }
        var error = json_error_t()
        guard let parsed = json_loadb(base.assumingMemoryBound(to: CChar.self), text.count,
                                      Int(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES), &error) else {
            throw OwdError.invalidArgument("request is not valid JSON: \(JSON.reason(&error)) at line \(error.line), column \(error.column)")
        }
        defer { cjansson_decref(parsed) }
        return try callText(operation, UnsafePointer(parsed))
    }

    /// The same with Swift strings (a thin wrapper over `callJSON`).
    public func call(_ operation: String, json text: String) throws -> String {
        var text = text
        let out = try text.withUTF8 { try callJSON(operation, UnsafeRawBufferPointer($0)) }
        defer { free(out) }
        return String(cString: out)
    }

    /// Runs an operation on a parsed request (borrowed; NULL means {}) and answers with
    /// compact JSON text (malloc'd, for `free`). DescribeDeployments is written straight
    /// from the records.
    public func callText(_ operation: String, _ request: UnsafePointer<json_t>?) throws -> UnsafeMutablePointer<CChar> {
        let op = try Store.operation(operation)
        var text = JSONText(capacity: 4096)
        // Every failure releases the buffer: a request refused by validate or by call
        // leaked it (found by the memcheck run of tests/c).
        do {
            let value = try validated(op, request)
            let access = Access(operation: op, caller: caller)
            if op == .describeDeployments {
                let r = try DescribeDeploymentsRequest(value)
                text.raw("{\"Deployments\":[")
                var first = true
                try selectDeployments(stackID: r.stackId, appID: r.appId, deploymentIDs: r.deploymentIds, access) { d in
                    if !first { text.byte(44) }
                    first = false
                    d.write(&text)
                }
                text.raw("]}")
            } else {
                let response = try dispatch(op, value, access)
                text.value(response)
                cjansson_decref(response)
            }
        } catch {
            text.release()
            throw error
        }
        guard let out = text.take() else { throw OwdError.outOfMemory }
        return out
    }

    /// The AWS JSON 1.1 error body, `{"__type": ..., "message": ...}` (malloc'd).
    public static func errorText(type: String, message: String) -> UnsafeMutablePointer<CChar>? {
        var text = JSONText(capacity: 64 + message.utf8.count)
        var type = type, message = message
        text.raw("{\"__type\":")
        type.withUTF8 { text.string($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
        text.raw(",\"message\":")
        message.withUTF8 { text.string($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
        text.byte(125)
        return text.take()
    }
}
