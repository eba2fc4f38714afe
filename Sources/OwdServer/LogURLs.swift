import COwdCrypto
import OwdCore
#if canImport(Glibc)
import Glibc
#endif

/// Section 14: a stored command log served as the command's LogUrl, a URL on this server
/// that works without AWS credentials for an hour, like S3's presigned URLs:
/// `<base>/logs/<CommandId>?Expires=<unix seconds>&Signature=<hex HMAC-SHA256>`, the HMAC
/// keyed with the store's secret (random, made once and kept in the store) over the command ID and
/// the expiry, so neither can be changed and no URL can be made without the key. Every
/// refused URL (forged, altered, expired, malformed) gets the same 403 and body.
public final class LogURLSigner: @unchecked Sendable {
    public static let lifetime: Int64 = 3600
    /// How long a URL works: `lifetime`, unless a test made it shorter.
    public let validFor: Int64
    public static let prefix = "/logs/"

    let key: [UInt8]
    let clock: @Sendable () -> Int64
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var base = ""

    /// 32 random bytes (the kernel's, else the system generator's).
    public static func randomKey() -> [UInt8] {
        var k = [UInt8](repeating: 0, count: 32)
        if k.withUnsafeMutableBytes({ owdc_random($0.baseAddress, $0.count) }) != 0 {
            var g = SystemRandomNumberGenerator()
            for i in k.indices { k[i] = g.next() }
        }
        return k
    }

    /// `key` nil: a random one, for this object only (`owd serve` passes the store's).
    public init(key: [UInt8]? = nil, validFor: Int64 = LogURLSigner.lifetime,
                clock: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }) {
        self.validFor = validFor
        self.key = key ?? LogURLSigner.randomKey()
        self.clock = clock
        pthread_mutex_init(lock, nil)
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// The scheme, host and port the URLs start with (known once the server listens).
    public var baseURL: String {
        get { pthread_mutex_lock(lock); defer { pthread_mutex_unlock(lock) }; return base }
        set { pthread_mutex_lock(lock); base = newValue; pthread_mutex_unlock(lock) }
    }

    func signature(_ commandID: Substring, _ expires: Substring) -> String {
        Hex.encode(hmac(key, Array("owd-log\n\(commandID)\n\(expires)".utf8)))
    }

    /// The URL of a command's log, valid for `validFor` seconds from now.
    public func url(_ commandID: String) -> String {
        let expires = String(clock() + validFor)
        return "\(baseURL)\(LogURLSigner.prefix)\(commandID)?Expires=\(expires)&Signature=\(signature(commandID[...], expires[...]))"
    }

    /// The command ID of a genuine, unexpired URL (path and query as received), else nil.
    public func verify(path: String, query: [(String, String)]) -> String? {
        guard path.hasPrefix(LogURLSigner.prefix) else { return nil }
        let id = path.dropFirst(LogURLSigner.prefix.count)
        var expires: String?, signature: String?
        for (k, v) in query {
            switch k {
            case "Expires": if expires != nil { return nil }; expires = v
            case "Signature": if signature != nil { return nil }; signature = v
            default: return nil
            }
        }
        guard !id.isEmpty, id.utf8.count <= 64, let expires, let signature,
              !expires.isEmpty, expires.utf8.count <= 12, expires.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let at = Int64(expires) else { return nil }
        let expected = Array(self.signature(id, expires[...]).utf8)
        let given = Array(signature.utf8)
        guard given.count == expected.count,
              owdc_equal(given, expected, expected.count) == 1 else { return nil }
        guard clock() < at else { return nil }
        return String(id)
    }
}

extension Endpoint {
    /// Makes every DescribeCommands answer through this endpoint's store give a command
    /// with a stored log its signed URL, and serves those URLs.
    public func serveLogs(_ signer: LogURLSigner) {
        logs = signer
        owner.serveLogs { signer.url($0) }
    }

    func logPage(_ r: HTTPRequest, id: String) -> HTTPResponse {
        func text(_ status: UInt32, _ body: String) -> HTTPResponse {
            var out = HTTPResponse(status: status, json: false, requestID: id, operation: "GetLogUrl")
            // The bytes as they are (a log may hold a NUL): malloc'd, as the HTTP layer frees it.
            let bytes = Array(body.utf8)
            guard let buffer = malloc(max(bytes.count, 1))?.assumingMemoryBound(to: CChar.self) else {
                return HTTPResponse(status: 500, json: false, requestID: id, operation: "GetLogUrl")
            }
            bytes.withUnsafeBytes { _ = memcpy(buffer, $0.baseAddress ?? UnsafeRawPointer(buffer), bytes.count) }
            out.body = buffer
            out.count = bytes.count
            return out
        }
        guard r.method == "GET" || r.method == "HEAD" else {
            return text(405, "Method not allowed: a log URL is read with GET\n")
        }
        guard let logs, let command = logs.verify(path: r.path, query: r.query) else {
            return text(403, "Forbidden\n")
        }
        do {
            guard let log = try owner.commandLog(command) else { return text(404, "This command has no log\n") }
            return text(200, log)
        } catch {
            return text(500, "The store failed to answer the request\n")
        }
    }
}
