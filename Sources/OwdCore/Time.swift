/// Timestamps as the contract spells them: `YYYY-MM-DDTHH:MM:SS+00:00`, UTC, whole seconds.
public enum Timestamp {
    public static let length = 25

    /// Writes the 25 bytes of `seconds` (Unix time) to `out`, without a NUL.
    @inline(__always)
    static func write(_ seconds: Int64, to out: UnsafeMutablePointer<UInt8>) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secs = seconds - days * 86_400
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func digits(_ v: Int64, _ n: Int, _ at: Int) {
            var v = v
            for i in stride(from: at + n - 1, through: at, by: -1) {
                out[i] = UInt8(truncatingIfNeeded: 48 + v % 10)
                v /= 10
            }
        }
        digits(min(max(y, 0), 9999), 4, 0)
        out[4] = 45; digits(m, 2, 5)
        out[7] = 45; digits(d, 2, 8)
        out[10] = 84; digits(secs / 3600, 2, 11)
        out[13] = 58; digits(secs / 60 % 60, 2, 14)
        out[16] = 58; digits(secs % 60, 2, 17)
        // "+00:00"
        out[19] = 43; out[20] = 48; out[21] = 48; out[22] = 58; out[23] = 48; out[24] = 48
    }

    public static func string(_ seconds: Int64) -> String {
        String(unsafeUninitializedCapacity: length) { buffer in
            write(seconds, to: buffer.baseAddress!)
            return length
        }
    }
}

/// IDs: lowercase random (version 4) UUIDs.
public struct UUIDKey: Hashable, Sendable {
    let high: UInt64
    let low: UInt64

    static func random() -> UUIDKey {
        var g = SystemRandomNumberGenerator()
        let high = (g.next() & ~0xF000) | 0x4000                               // version 4
        let low = (g.next() & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000   // variant 10
        return UUIDKey(high: high, low: low)
    }

    /// The canonical lowercase form, or nil: any other text is no ID owd ever made.
    init?(_ text: String) {
        var text = text
        guard let key = text.withUTF8({ UUIDKey.parse($0) }) else { return nil }
        self = key
    }

    /// Hex digit values of lowercase hex, 0xFF for every other byte.
    private static let hexValues: [UInt8] = (0..<256).map { c in
        switch c {
        case 48...57: return UInt8(c - 48)
        case 97...102: return UInt8(c - 87)
        default: return 0xFF
        }
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> UUIDKey? {
        guard bytes.count == 36, bytes[8] == 45, bytes[13] == 45, bytes[18] == 45, bytes[23] == 45 else { return nil }
        return hexValues.withUnsafeBufferPointer { table -> UUIDKey? in
            var bad: UInt8 = 0
            @inline(__always) func hex(_ from: Int, _ to: Int, into v: inout UInt64) {
                for i in from..<to {
                    let d = table[Int(bytes[i])]
                    bad |= d
                    v = v << 4 | UInt64(d & 0xF)
                }
            }
            var high: UInt64 = 0, low: UInt64 = 0
            hex(0, 8, into: &high); hex(9, 13, into: &high); hex(14, 18, into: &high)
            hex(19, 23, into: &low); hex(24, 36, into: &low)
            return bad & 0xF0 == 0 ? UUIDKey(high: high, low: low) : nil
        }
    }

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public var string: String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            write(to: buffer.baseAddress!)
            return 36
        }
    }

    func write(to out: UnsafeMutablePointer<UInt8>) {
        let hex: StaticString = "0123456789abcdef"
        let h = hex.utf8Start
        var j = 0
        for i in 0..<32 {
            if i == 8 || i == 12 || i == 16 || i == 20 { out[j] = 45; j += 1 }
            let word = i < 16 ? high : low
            let shift = UInt64((15 - i % 16) * 4)
            out[j] = h[Int((word >> shift) & 0xF)]
            j += 1
        }
    }
}
