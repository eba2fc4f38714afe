import COwdCrypto
#if canImport(Glibc)
import Glibc
#endif

/// One identity of the credentials file: the request acts as `iamUserArn` (nil: the
/// store's owner).
public struct Credential: Sendable, Equatable {
    public let accessKeyID: String
    public let secretAccessKey: String
    public let iamUserArn: String?

    public init(accessKeyID: String, secretAccessKey: String, iamUserArn: String?) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.iamUserArn = iamUserArn
    }
}

/// Why a request's signature was refused (behaviour.md section 13). Messages are AWS's
/// where AWS had one, and never hold the expected signature or any part of a secret.
public enum AuthFailure: Error, Equatable, Sendable {
    case missing
    case incomplete(String)
    case unrecognizedClient
    case invalidSignature(String)

    public var status: UInt32 { self == .missing ? 403 : 400 }

    public var type: String {
        switch self {
        case .missing: return "MissingAuthenticationTokenException"
        case .incomplete: return "IncompleteSignatureException"
        case .unrecognizedClient: return "UnrecognizedClientException"
        case .invalidSignature: return "InvalidSignatureException"
        }
    }

    public var message: String {
        switch self {
        case .missing: return "Missing Authentication Token"
        case .incomplete(let m), .invalidSignature(let m): return m
        case .unrecognizedClient: return "The security token included in the request is invalid."
        }
    }
}

/// What SigV4 signs of a request. Header names as sent (matched without case), values as
/// sent; the path as sent (percent-encoded); the query as decoded (name, value) pairs.
public struct SignedRequest {
    public var method: String
    public var path: String
    public var query: [(String, String)]
    public var headers: [(String, String)]
    public var body: UnsafeRawBufferPointer

    public init(method: String, path: String, query: [(String, String)] = [], headers: [(String, String)],
                body: UnsafeRawBufferPointer) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// Every value of a header, in order, joined by "," (SigV4's rule for repeated headers).
    public func header(_ name: String) -> String? {
        var found: String?
        for (n, v) in headers where sameName(n, name) {
            found = found.map { $0 + "," + v } ?? v
        }
        return found
    }
}

/// AWS Signature Version 4 (AWS4-HMAC-SHA256) for one region and service, over the
/// identities of a credentials file, with an injectable clock (Unix seconds).
public final class SigV4Verifier: Sendable {
    public let region: String
    public let service: String
    public let maxSkew: Int64
    let credentials: [String: Credential]
    let clock: @Sendable () -> Int64
    /// Signing keys by access key and day: four HMACs saved on every request but the first of a day.
    let keys = KeyCache()

    public init(region: String, service: String = "opsworks", credentials: [Credential], maxSkew: Int64 = 300,
                clock: @escaping @Sendable () -> Int64) {
        self.region = region
        self.service = service
        self.maxSkew = maxSkew
        self.clock = clock
        var byKey: [String: Credential] = [:]
        for c in credentials { byKey[c.accessKeyID] = c }
        self.credentials = byKey
    }

    /// The credential the request was signed with, or why it is refused.
    public func verify(_ request: SignedRequest) -> Result<Credential, AuthFailure> {
        guard let authorization = request.header("authorization") else { return .failure(.missing) }
        let parsed: Authorization
        switch Authorization.parse(authorization) {
        case .success(let a): parsed = a
        case .failure(let f): return .failure(f)
        }
        guard let credential = credentials[parsed.accessKeyID] else { return .failure(.unrecognizedClient) }
        guard let amzDate = request.header("x-amz-date") else {
            return .failure(.incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."))
        }
        guard let signedAt = SigV4Verifier.parseAmzDate(amzDate) else {
            return .failure(.incomplete("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""))
        }
        let now = clock()
        if signedAt < now - maxSkew {
            return .failure(.invalidSignature("Signature expired: \(amzDate) is now earlier than \(SigV4Verifier.amzDate(now - maxSkew)) (\(SigV4Verifier.amzDate(now)) - 5 min.)"))
        }
        if signedAt > now + maxSkew {
            return .failure(.invalidSignature("Signature not yet current: \(amzDate) is still later than \(SigV4Verifier.amzDate(now + maxSkew)) (\(SigV4Verifier.amzDate(now)) + 5 min.)"))
        }
        // Every value quoted back from the request goes through Endpoint.printable: no control
        // character (a NUL was found by the fuzz target) and at most 128 characters.
        if parsed.day != String(amzDate.prefix(8)) {
            return .failure(.invalidSignature("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '\(Endpoint.printable(parsed.day))' != '\(amzDate.prefix(8))', from '\(amzDate)'."))
        }
        if parsed.region != region {
            return .failure(.invalidSignature("Credential should be scoped to a valid region, not '\(Endpoint.printable(parsed.region))'. "))
        }
        if parsed.service != service {
            return .failure(.invalidSignature("Credential should be scoped to correct service: '\(service)'. "))
        }
        if parsed.terminator != "aws4_request" {
            return .failure(.invalidSignature("Credential should be scoped with a valid terminator: 'aws4_request', not '\(Endpoint.printable(parsed.terminator))'. "))
        }
        if !parsed.signedHeaders.contains("host") {
            return .failure(.invalidSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."))
        }
        let creq = SigV4Verifier.canonicalBytes(request, signedHeaders: parsed.signedHeaders)
        let sts = SigV4Verifier.stringToSignBytes(amzDate: amzDate, scope: parsed.scope, canonicalRequest: creq)
        let key = signingKey(credential, day: parsed.day)
        var expected: [UInt8] = Hex.encode(hmac(key, sts))
        var given = Array(parsed.signature.utf8)
        let equal = expected.count == given.count && owdc_equal(&expected, &given, expected.count) == 1
        return equal ? .success(credential) : .failure(.invalidSignature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."))
    }

    /// The hex signature of a string to sign (for clients: tests and the fuzz target).
    public static func signature(key: [UInt8], stringToSign: String) -> String {
        Hex.encode(hmac(key, Array(stringToSign.utf8)))
    }

    func signingKey(_ c: Credential, day: String) -> [UInt8] {
        if let cached = keys.get(c.accessKeyID), cached.day == day { return cached.key }
        let key = SigV4Verifier.signingKey(secret: c.secretAccessKey, day: day, region: region, service: service)
        keys.set(c.accessKeyID, (day, key))
        return key
    }

    public static func signingKey(secret: String, day: String, region: String, service: String) -> [UInt8] {
        var k = hmac(Array(("AWS4" + secret).utf8), Array(day.utf8))
        k = hmac(k, Array(region.utf8))
        k = hmac(k, Array(service.utf8))
        return hmac(k, Array("aws4_request".utf8))
    }

    // MARK: The canonical forms (AWS's "Create a canonical request", "Create a string to sign")

    public static func canonicalRequest(_ r: SignedRequest, signedHeaders: [String]) -> String {
        String(decoding: canonicalBytes(r, signedHeaders: signedHeaders), as: UTF8.self)
    }

    public static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        String(decoding: stringToSignBytes(amzDate: amzDate, scope: scope, canonicalRequest: Array(canonicalRequest.utf8)), as: UTF8.self)
    }

    /// The canonical request as bytes, written in one buffer (it runs on every request).
    static func canonicalBytes(_ r: SignedRequest, signedHeaders: [String]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        out += r.method.utf8
        out.append(10)
        if r.path == "/" { out.append(UInt8(ascii: "/")) } else { out += canonicalURI(r.path).utf8 }
        out.append(10)
        if !r.query.isEmpty { out += canonicalQuery(r.query).utf8 }
        out.append(10)
        for name in signedHeaders {
            out += name.utf8
            out.append(UInt8(ascii: ":"))
            // Every value of the header in order, each trimmed with inner runs of spaces made
            // one, joined by "," (botocore's and AWS's rule).
            var first = true
            for (n, v) in r.headers where sameName(n, name) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                appendCanonical(&out, v)
            }
            out.append(10)
        }
        out.append(10)
        for (i, name) in signedHeaders.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ";")) }
            out += name.utf8
        }
        out.append(10)
        out += Hex.encode(sha256(r.body)) as [UInt8]
        return out
    }

    static func stringToSignBytes(amzDate: String, scope: String, canonicalRequest: [UInt8]) -> [UInt8] {
        var out: [UInt8] = Array("AWS4-HMAC-SHA256\n".utf8)
        out.reserveCapacity(160)
        out += amzDate.utf8
        out.append(10)
        out += scope.utf8
        out.append(10)
        out += Hex.encode(canonicalRequest.withUnsafeBytes { sha256($0) }) as [UInt8]
        return out
    }

    static func appendCanonical(_ out: inout [UInt8], _ value: String) {
        var space = false, any = false
        for b in value.utf8 {
            if b == 32 || b == 9 {
                space = any
            } else {
                if space { out.append(32); space = false }
                out.append(b)
                any = true
            }
        }
    }

    /// The path with dot segments and empty segments removed, then URI-encoded (once more:
    /// for every service but S3, the path as sent is encoded again).
    static func canonicalURI(_ path: String) -> String {
        if path.isEmpty { return "/" }
        var segments: [Substring] = []
        for s in path.split(separator: "/", omittingEmptySubsequences: true) {
            if s == "." { continue }
            if s == ".." { if !segments.isEmpty { segments.removeLast() }; continue }
            segments.append(s)
        }
        var out = "/" + segments.map { uriEncode(String($0)) }.joined(separator: "/")
        if path.hasSuffix("/") && !segments.isEmpty { out += "/" }
        return out
    }

    static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (uriEncode($0.0), uriEncode($0.1)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, every other byte %XX.
    static func uriEncode(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(b)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(Hex.upper[Int(b >> 4)])
                out.append(Hex.upper[Int(b & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Time

    /// yyyyMMdd'T'HHmmss'Z' as Unix seconds.
    public static func parseAmzDate(_ s: String) -> Int64? {
        let b = Array(s.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z") else { return nil }
        func num(_ from: Int, _ n: Int) -> Int64? {
            var v: Int64 = 0
            for i in from..<(from + n) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard let y = num(0, 4), let mo = num(4, 2), let d = num(6, 2), let h = num(9, 2), let mi = num(11, 2),
              let sec = num(13, 2), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, sec < 61 else { return nil }
        return days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
    }

    public static func amzDate(_ t: Int64) -> String {
        let (y, mo, d) = civil(t >= 0 ? t / 86400 : (t - 86399) / 86400)
        let s = ((t % 86400) + 86400) % 86400
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)\(two(mo))\(two(d))T\(two(s / 3600))\(two(s / 60 % 60))\(two(s % 60))Z"
    }

    // Howard Hinnant's days_from_civil and civil_from_days.
    static func days(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civil(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}

/// The client's half (`owd agent`): signs a request with the same canonical request,
/// string to sign and signing key the verifier computes, so the two cannot drift apart.
public struct SigV4Signer: Sendable {
    public let accessKeyID: String
    let secretAccessKey: String
    public let sessionToken: String?
    public let region: String
    public let service: String

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, region: String,
                service: String = "opsworks") {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.region = region
        self.service = service
    }

    /// `headers` (which must hold Host) plus X-Amz-Date, X-Amz-Security-Token (with a
    /// session token) and Authorization, every header signed, for a request at `time`
    /// (Unix seconds).
    public func sign(method: String, path: String, query: [(String, String)] = [], headers: [(String, String)],
                     body: UnsafeRawBufferPointer, time: Int64) -> [(String, String)] {
        let amzDate = SigV4Verifier.amzDate(time)
        var all = headers
        all.append(("X-Amz-Date", amzDate))
        if let sessionToken { all.append(("X-Amz-Security-Token", sessionToken)) }
        var names: [String] = []
        for (n, _) in all {
            let lower = n.lowercased()
            if !names.contains(lower) { names.append(lower) }
        }
        names.sort()
        let request = SignedRequest(method: method, path: path, query: query, headers: all, body: body)
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let creq = SigV4Verifier.canonicalBytes(request, signedHeaders: names)
        let sts = SigV4Verifier.stringToSignBytes(amzDate: amzDate, scope: scope, canonicalRequest: creq)
        let key = SigV4Verifier.signingKey(secret: secretAccessKey, day: day, region: region, service: service)
        let signature: String = Hex.encode(hmac(key, sts))
        all.append(("Authorization", "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope), SignedHeaders=\(names.joined(separator: ";")), Signature=\(signature)"))
        return all
    }
}

/// Signing keys by access key: read on every request from every server thread, written
/// once a day per key, so a read-write lock (a mutex was contended under load).
final class KeyCache: @unchecked Sendable {
    private var lock = pthread_rwlock_t()
    private var entries: [String: (day: String, key: [UInt8])] = [:]

    init() { pthread_rwlock_init(&lock, nil) }
    deinit { pthread_rwlock_destroy(&lock) }

    func get(_ id: String) -> (day: String, key: [UInt8])? {
        pthread_rwlock_rdlock(&lock)
        defer { pthread_rwlock_unlock(&lock) }
        return entries[id]
    }

    func set(_ id: String, _ value: (day: String, key: [UInt8])) {
        pthread_rwlock_wrlock(&lock)
        defer { pthread_rwlock_unlock(&lock) }
        entries[id] = value
    }
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
struct Authorization {
    var accessKeyID = "", day = "", region = "", service = "", terminator = ""
    var signedHeaders: [String] = []
    var signature = ""
    var scope: String { "\(day)/\(region)/\(service)/\(terminator)" }

    /// Byte by byte: this runs on every request (Character-wise slicing cost half of a
    /// request's time when measured).
    static func parse(_ header: String) -> Result<Authorization, AuthFailure> {
        let b = Array(header.utf8)
        let algorithm = Array("AWS4-HMAC-SHA256 ".utf8)
        var i = 0
        while i < b.count && b[i] == 32 { i += 1 }
        guard b.count - i >= algorithm.count, Array(b[i..<(i + algorithm.count)]) == algorithm else {
            var j = i
            while j < b.count && b[j] != 32 && j - i < 32 { j += 1 }
            let given = Endpoint.printable(String(decoding: b[i..<j], as: UTF8.self))
            return .failure(.incomplete("Unsupported AWS 'algorithm': '\(given)'; owd accepts only AWS4-HMAC-SHA256"))
        }
        i += algorithm.count
        var credential: ArraySlice<UInt8>?, signedHeaders: ArraySlice<UInt8>?, signature: ArraySlice<UInt8>?
        while i < b.count {
            var end = i
            while end < b.count && b[end] != UInt8(ascii: ",") { end += 1 }
            var lo = i, hi = end
            while lo < hi && (b[lo] == 32 || b[lo] == 9) { lo += 1 }
            while hi > lo && (b[hi - 1] == 32 || b[hi - 1] == 9) { hi -= 1 }
            i = end + 1
            if lo == hi { continue }
            guard let eq = b[lo..<hi].firstIndex(of: UInt8(ascii: "=")) else {
                return .failure(.incomplete("Authorization header is malformed: a part has no '=' (expected Credential=..., SignedHeaders=..., Signature=...)"))
            }
            let key = b[lo..<eq], value = b[(eq + 1)..<hi]
            if key.elementsEqual("Credential".utf8) { credential = value }
            else if key.elementsEqual("SignedHeaders".utf8) { signedHeaders = value }
            else if key.elementsEqual("Signature".utf8) { signature = value }
        }
        for (name, value) in [("Credential", credential), ("SignedHeaders", signedHeaders), ("Signature", signature)] where value == nil {
            return .failure(.incomplete("Authorization header requires '\(name)' parameter."))
        }
        let scope = credential!.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard scope.count == 5, scope.allSatisfy({ !$0.isEmpty }) else {
            return .failure(.incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term"))
        }
        func text(_ s: ArraySlice<UInt8>) -> String { String(decoding: s, as: UTF8.self) }
        var a = Authorization()
        a.accessKeyID = text(scope[0])
        a.day = text(scope[1])
        a.region = text(scope[2])
        a.service = text(scope[3])
        a.terminator = text(scope[4])
        a.signedHeaders = signedHeaders!.split(separator: UInt8(ascii: ";")).map(text)
        a.signature = text(signature!)
        return .success(a)
    }
}

/// ASCII case-insensitive equality of a header name with a lowercase name, without allocating.
@inline(__always)
func sameName(_ name: String, _ lowercased: String) -> Bool {
    var a = name, b = lowercased
    return a.withUTF8 { x in
        b.withUTF8 { y in
            guard x.count == y.count else { return false }
            for k in 0..<x.count {
                var c = x[k]
                if c >= 65 && c <= 90 { c |= 0x20 }
                if c != y[k] { return false }
            }
            return true
        }
    }
}

func sha256(_ data: UnsafeRawBufferPointer) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    _ = out.withUnsafeMutableBufferPointer { owdc_sha256(data.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, data.count, $0.baseAddress) }
    return out
}

func hmac(_ key: [UInt8], _ data: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    key.withUnsafeBufferPointer { k in
        data.withUnsafeBufferPointer { d in
            out.withUnsafeMutableBufferPointer { o in
                _ = owdc_hmac_sha256(k.baseAddress ?? UnsafePointer(bitPattern: 1)!, k.count,
                                     d.baseAddress ?? UnsafePointer(bitPattern: 1)!, d.count, o.baseAddress)
            }
        }
    }
    return out
}

enum Hex {
    static let lower = Array("0123456789abcdef".utf8)
    static let upper = Array("0123456789ABCDEF".utf8)

    static func encode(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(lower[Int(b >> 4)])
            out.append(lower[Int(b & 15)])
        }
        return out
    }

    static func encode(_ bytes: [UInt8]) -> String { String(decoding: encode(bytes) as [UInt8], as: UTF8.self) }
}
