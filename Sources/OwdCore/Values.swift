import CJansson
#if canImport(Glibc)
import Glibc
#endif

/// A request member's value after validation against its shape.
public indirect enum Value: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case boolean(Bool)
    case list([Value])
    /// A map or a structure: members in the order given.
    case object([(String, Value)])

    public static func == (a: Value, b: Value) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x == y
        case (.integer(let x), .integer(let y)): return x == y
        case (.boolean(let x), .boolean(let y)): return x == y
        case (.list(let x), .list(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public var members: [(String, Value)] {
        if case .object(let m) = self { return m }
        return []
    }

    /// A new jansson value (new reference); nil only when memory ran out.
    public func json() -> UnsafeMutablePointer<json_t>? {
        switch self {
        case .string(let s):
            return s.withCString { json_stringn_nocheck($0, s.utf8.count) }
        case .integer(let i):
            return json_integer(json_int_t(i))
        case .boolean(let b):
            return b ? json_true() : json_false()
        case .list(let items):
            guard let array = json_array() else { return nil }
            for item in items {
                guard let j = item.json(), json_array_append_new(array, j) == 0 else {
                    cjansson_decref(array)
                    return nil
                }
            }
            return array
        case .object(let members):
            guard let object = json_object() else { return nil }
            for (k, v) in members {
                guard let j = v.json(), json_object_setn_new_nocheck(object, k, k.utf8.count, j) == 0 else {
                    cjansson_decref(object)
                    return nil
                }
            }
            return object
        }
    }

    /// Compact JSON text.
    public func jsonText() throws -> String {
        guard let j = json() else { throw OwdError.outOfMemory }
        defer { cjansson_decref(j) }
        return try JSON.dumps(j)
    }
}

/// Small helpers over jansson.
public enum JSON {
    public static func dumps(_ json: UnsafePointer<json_t>) throws -> String {
        guard let text = json_dumps(json, Int(JSON_COMPACT | JSON_ENCODE_ANY)) else { throw OwdError.outOfMemory }
        defer { JSON.free(text) }
        return String(cString: text)
    }

    /// Releases text that jansson allocated (json_dumps) with jansson's own free function:
    /// a program may have given jansson other allocators (json_set_alloc_funcs).
    static func free(_ text: UnsafeMutablePointer<CChar>) {
        var malloc: json_malloc_t?
        var release: json_free_t?
        json_get_alloc_funcs(&malloc, &release)
        if let release { release(text) } else { Glibc.free(text) }
    }

    /// jansson's error text.
    static func reason(_ error: inout json_error_t) -> String {
        withUnsafeBytes(of: &error.text) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Parses JSON text (any value). Throws `invalidArgument` naming the position of a
    /// syntax error. Requests enter through `Store.callJSON`, which applies the one rule.
    public static func loads(_ text: String) throws -> UnsafeMutablePointer<json_t> {
        var error = json_error_t()
        let parsed = text.withCString { json_loadb($0, text.utf8.count, Int(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES), &error) }
        guard let parsed else {
            throw OwdError.invalidArgument("request is not valid JSON: \(reason(&error)) at line \(error.line), column \(error.column)")
        }
        return parsed
    }

    static func typeName(_ json: UnsafePointer<json_t>?) -> String {
        switch cjansson_typeof(json) {
        case Int32(JSON_OBJECT.rawValue): return "object"
        case Int32(JSON_ARRAY.rawValue): return "list"
        case Int32(JSON_STRING.rawValue): return "string"
        case Int32(JSON_INTEGER.rawValue): return "integer"
        case Int32(JSON_REAL.rawValue): return "number"
        case Int32(JSON_TRUE.rawValue), Int32(JSON_FALSE.rawValue): return "boolean"
        default: return "null"
        }
    }

    /// The bytes of a jansson string as a Swift String, or nil when they are not valid
    /// UTF-8 or hold a NUL byte.
    static func validString(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String? {
        guard let pointer else { return nil }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            let buffer = UnsafeBufferPointer(start: bytes, count: length)
            // One pass for NUL and non-ASCII: IDs, the common case, are ASCII and need no
            // further validation (the generic validator costs a metadata lookup per call).
            var high: UInt8 = 0
            for b in buffer {
                if b == 0 { return nil }
                high |= b
            }
            if high < 0x80 { return String(decoding: buffer, as: UTF8.self) }
            return String(validating: buffer, as: UTF8.self)
        }
    }
}
