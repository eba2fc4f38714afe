#if canImport(Glibc)
import Glibc
#endif

/// Typed requests from validated values. The validator has already checked every member
/// against the operation's shape, so a mismatch here is a bug in owd: it is reported as
/// `OwdError.internal`, never a trap.
enum Decode {
    static func mismatch(_ expected: StaticString) -> OwdError {
        .internal("a validated request member is not a \(expected)")
    }

    @inline(__always)
    static func string(_ v: Value) throws -> String {
        guard case .string(let s) = v else { throw mismatch("string") }
        return s
    }

    @inline(__always)
    static func integer(_ v: Value) throws -> Int64 {
        guard case .integer(let i) = v else { throw mismatch("integer") }
        return i
    }

    @inline(__always)
    static func boolean(_ v: Value) throws -> Bool {
        guard case .boolean(let b) = v else { throw mismatch("boolean") }
        return b
    }

    /// A list of strings (IDs, the common case), without a closure per entry.
    static func strings(_ v: Value) throws -> [String] {
        guard case .list(let items) = v else { throw mismatch("list") }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case .string(let s) = item else { throw mismatch("string") }
            out.append(s)
        }
        return out
    }

    static func list<T>(_ v: Value, _ element: (Value) throws -> T) throws -> [T] {
        guard case .list(let items) = v else { throw mismatch("list") }
        return try items.map(element)
    }

    /// A map, entries in the order given.
    static func map<T>(_ v: Value, _ element: (Value) throws -> T) throws -> [(String, T)] {
        guard case .object(let members) = v else { throw mismatch("map") }
        return try members.map { ($0.0, try element($0.1)) }
    }
}

extension Value {
    /// A required member (the validator refused requests without it).
    @inline(__always)
    func required<T>(_ name: StaticString, _ decode: (Value) throws -> T) throws -> T {
        guard let v = member(name) else { throw OwdError.internal("a validated request lacks \(name)") }
        return try decode(v)
    }

    @inline(__always)
    func optional<T>(_ name: StaticString, _ decode: (Value) throws -> T) throws -> T? {
        guard let v = member(name) else { return nil }
        return try decode(v)
    }

    /// The member named `name` (compared as bytes: no String made per lookup).
    @inline(__always)
    func member(_ name: StaticString) -> Value? {
        guard case .object(let members) = self else { return nil }
        let n = name.utf8CodeUnitCount
        for (k, v) in members {
            var key = k
            let same = key.withUTF8 { b in
                b.count == n && (n == 0 || memcmp(b.baseAddress!, name.utf8Start, n) == 0)
            }
            if same { return v }
        }
        return nil
    }
}
