import CJansson
import COwdCrypto
import OwdCore
#if canImport(Glibc)
import Glibc
#endif

/// A request as the HTTP layer hands it over (borrowed for the call).
public struct HTTPRequest {
    public var method: String
    public var path: String
    public var query: [(String, String)]
    public var headers: [(String, String)]
    public var body: UnsafeRawBufferPointer
    /// 0, or the status of a bound the HTTP layer already found broken (413, 431).
    public var refused: UInt32
    /// The transport, as the HTTP layer saw it: TLS or not, the peer's address and whether
    /// it is a loopback one (section 14: secrets only over TLS or loopback).
    public var tls: Bool
    public var peerLoopback: Bool
    public var peer: String

    public init(method: String, path: String, query: [(String, String)] = [], headers: [(String, String)],
                body: UnsafeRawBufferPointer, refused: UInt32 = 0,
                tls: Bool = false, peerLoopback: Bool = true, peer: String = "127.0.0.1") {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.refused = refused
        self.tls = tls
        self.peerLoopback = peerLoopback
        self.peer = peer
    }
}

/// An answer. `body` is malloc'd and owned by whoever holds the response: the HTTP layer
/// sends and frees it, `text` (tests) copies it, `release()` frees it.
public struct HTTPResponse {
    public var status: UInt32
    public var json = true
    /// A text answer in Prometheus' format (its own Content-Type).
    public var prometheus = false
    public var body: UnsafeMutablePointer<CChar>?
    public var count = 0
    public var requestID: String
    public var errorType: String?
    /// For the log: the operation, or the path when there is none.
    public var operation: String
    public var caller: String?
    /// For the log only: why a 5xx happened (the store's own message).
    public var detail: String?
    /// For the log only: what else the operator should know of this answer.
    public var note: String?

    public var text: String {
        guard let body else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: body, count: count), as: UTF8.self)
    }

    public mutating func release() {
        free(body)
        body = nil
        count = 0
    }
}

/// The AWS JSON 1.1 endpoint of behaviour.md section 13, above any HTTP library: routing,
/// authentication, the operation call and every refusal's status, `__type` and message.
public final class Endpoint: @unchecked Sendable {
    public static let targetPrefix = "OpsWorks_20130218."
    public static let maxBody = 16 * 1024 * 1024
    public static let maxHeaders = 64 * 1024

    let owner: Store
    let verifier: SigV4Verifier?
    /// Section 14's log URLs (nil: not served); set before the server starts.
    var logs: LogURLSigner?
    /// PollCommands calls that may wait at once (each keeps its connection open while it
    /// waits); past it a poll answers at once. Set before the server starts.
    public var waitingPollLimit = 0
    /// The thread that waits for every deferred poll (`handle(_:later:)`).
    let waiter: PollWaiter
    let waitingPolls = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    let waitingLock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    /// One store handle per identity, made once.
    let handles: [String: Store]
    /// `GET /metrics` (nil: --no-metrics, 404); set before the server starts.
    public var metrics: ServerMetrics?
    /// `verifier` nil: --no-auth, every request is the store's owner.
    public init(store: Store, verifier: SigV4Verifier?) {
        owner = store
        self.verifier = verifier
        var handles: [String: Store] = [:]
        for c in verifier?.credentials.values.map({ $0 }) ?? [] {
            if let arn = c.iamUserArn, handles[arn] == nil { handles[arn] = store.acting(as: arn) }
        }
        self.handles = handles
        waiter = PollWaiter(store: store)
        waitingPolls.initialize(to: 0)
        pthread_mutex_init(waitingLock, nil)
    }

    deinit {
        waiter.stop()
        pthread_mutex_destroy(waitingLock)
        waitingLock.deallocate()
        waitingPolls.deallocate()
    }

    /// Takes a waiting-poll slot (true) or finds none free (false).
    func takePollSlot() -> Bool {
        pthread_mutex_lock(waitingLock)
        defer { pthread_mutex_unlock(waitingLock) }
        guard waitingPolls.pointee < waitingPollLimit else { return false }
        waitingPolls.pointee += 1
        return true
    }

    func releasePollSlot() {
        pthread_mutex_lock(waitingLock)
        waitingPolls.pointee -= 1
        pthread_mutex_unlock(waitingLock)
    }

    /// Answers every waiting poll now (empty, as at the end of its wait: its agent polls
    /// again) and answers later ones at once: a server that stops closes no poll unanswered.
    public func finishWaitingPolls() { waiter.stop() }

    /// Polls waiting for commands now (deferred by `handle(_:later:)`).
    public var waitingPollCount: Int { waiter.count }

    /// One request, one answer, on the caller's thread (a waiting PollCommands blocks it).
    public func handle(_ r: HTTPRequest) -> HTTPResponse {
        respond(r, later: nil)!
    }

    /// One request: its answer, or nil when it is a PollCommands that waits, whose answer
    /// then comes through `later`, exactly once, from the waiter's thread: the caller's
    /// thread is free meanwhile.
    public func handle(_ r: HTTPRequest, later: @escaping (HTTPResponse) -> Void) -> HTTPResponse? {
        respond(r, later: later)
    }

    func respond(_ r: HTTPRequest, later: ((HTTPResponse) -> Void)?) -> HTTPResponse? {
        let id = RequestID.make()
        if r.refused == 413 || r.body.count > Endpoint.maxBody {
            return Endpoint.error(413, "RequestEntityTooLarge", "The request body is larger than \(Endpoint.maxBody) bytes (16 MiB)", id: id, operation: r.path)
        }
        if r.refused == 431 || Endpoint.headerBytes(r.headers) > Endpoint.maxHeaders {
            return Endpoint.error(431, "RequestHeaderFieldsTooLarge", "The request's header fields are larger than \(Endpoint.maxHeaders) bytes (64 KiB)", id: id, operation: r.path)
        }
        if r.path.hasPrefix(LogURLSigner.prefix) { return logPage(r, id: id) }
        switch r.path {
        case "/":
            guard r.method == "POST" else {
                return Endpoint.error(405, "MethodNotAllowed", "\(Endpoint.printable(r.method)) is not allowed on /: the AWS JSON 1.1 protocol is POST /", id: id, operation: "/")
            }
        case "/health":
            guard r.method == "GET" || r.method == "HEAD" else {
                return Endpoint.error(405, "MethodNotAllowed", "\(Endpoint.printable(r.method)) is not allowed on /health: use GET", id: id, operation: "/health")
            }
            var out = HTTPResponse(status: 200, json: false, requestID: id, operation: "/health")
            out.body = strdup("ok\n")
            out.count = 3
            return out
        case "/metrics" where metrics != nil:
            return metricsPage(r, id: id)
        default:
            return Endpoint.error(404, "NotFound", "No such resource: \(Endpoint.printable(r.path)) (the endpoint is POST /, GET /health\(metrics != nil ? " and GET /metrics" : ""))", id: id, operation: "-")
        }

        // Who is asking: SigV4, or the owner with --no-auth.
        var store = owner
        var caller: String?
        if let verifier {
            let signed = SignedRequest(method: r.method, path: r.path, query: r.query, headers: r.headers, body: r.body)
            switch verifier.verify(signed) {
            case .success(let c):
                caller = c.iamUserArn
                if let arn = c.iamUserArn { store = handles[arn] ?? owner.acting(as: arn) }
            case .failure(let f):
                return Endpoint.error(f.status, f.type, f.message, id: id, operation: Endpoint.operationName(r) ?? "-")
            }
        }

        guard let target = Endpoint.header(r.headers, "x-amz-target") else {
            return Endpoint.error(400, "UnknownOperationException", "The request has no X-Amz-Target header (expected \(Endpoint.targetPrefix)<Operation>)", id: id, operation: "-", caller: caller)
        }
        guard target.hasPrefix(Endpoint.targetPrefix) else {
            return Endpoint.error(400, "UnknownOperationException", "Unknown X-Amz-Target \(Endpoint.printable(target)): owd serves \(Endpoint.targetPrefix)<Operation>", id: id, operation: "-", caller: caller)
        }
        let operation = String(target.dropFirst(Endpoint.targetPrefix.count))
        // Refused before the body is read, with the core's own answer (UnsupportedOperation
        // for the model's operations owd does not serve); an unknown name is quoted printable.
        do {
            try Store.checkOperation(operation)
        } catch OwdError.unknownOperation {
            return Endpoint.error(400, "UnknownOperationException", "Unknown operation \(Endpoint.printable(operation))", id: id, operation: "-", caller: caller)
        } catch let e as OwdError {
            let (status, type, message) = Endpoint.wire(e)
            return Endpoint.error(status, type, message, id: id, operation: operation, caller: caller)
        } catch {
            return Endpoint.error(500, "InternalFailure", "The server failed to answer the request", id: id, operation: operation, caller: caller)
        }
        if let type = Endpoint.header(r.headers, "content-type") {
            let base = type.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces.lowercased() } ?? ""
            guard base == "application/x-amz-json-1.1" || base == "application/json" else {
                return Endpoint.error(400, "SerializationException", "Content-Type \(Endpoint.printable(type)) is not application/x-amz-json-1.1 (or application/json)", id: id, operation: operation, caller: caller)
            }
        }

        var request: UnsafeMutablePointer<json_t>?
        if !r.body.isEmpty {
            var e = json_error_t()
            request = json_loadb(r.body.baseAddress!.assumingMemoryBound(to: CChar.self), r.body.count, Int(JSON_REJECT_DUPLICATES), &e)
            guard let parsed = request, cjansson_typeof(parsed) == Int32(JSON_OBJECT.rawValue) else {
                cjansson_decref(request)
                let reason = request == nil ? "\(Endpoint.text(of: &e)) at line \(e.line), column \(e.column)" : "the body is not a JSON object"
                return Endpoint.error(400, "SerializationException", "The request body is not a JSON object: \(reason)", id: id, operation: operation, caller: caller)
            }
        }
        defer { cjansson_decref(request) }
        // A poll that would wait without a free slot answers at once (the agent polls again).
        var slot = false
        if operation == "PollCommands", let request, let wait = json_object_get(request, "WaitTimeSeconds"),
           cjansson_typeof(wait) == Int32(JSON_INTEGER.rawValue), json_integer_value(wait) > 0 {
            slot = takePollSlot()
            if !slot { json_integer_set(wait, 0) }
        }
        // Section 14: a plain-HTTP poll from another machine gets no secret (the handle filters).
        var note: String?
        if operation == "PollCommands", let reason = Endpoint.secretsWithheld(tls: r.tls, peerLoopback: r.peerLoopback, peer: r.peer) {
            store = store.withholdingSecrets(reason)
            note = "secrets withheld: plain HTTP from \(Endpoint.printable(r.peer))"
            metrics?.recordWithheld()
        }
        if slot, let later {
            // Waits without this thread: the waiter answers, and frees the slot.
            do {
                switch try store.startPollCommands(request.map { UnsafePointer($0) }) {
                case .answered(let text):
                    releasePollSlot()
                    return Endpoint.answer(text, id: id, operation: operation, caller: caller, note: note)
                case .waiting(let poll):
                    waiter.add(poll) { [self] result in
                        releasePollSlot()
                        switch result {
                        case .success(let text): later(Endpoint.answer(text, id: id, operation: operation, caller: caller, note: note))
                        case .failure(let e): later(Endpoint.failure(e, id: id, operation: operation, caller: caller))
                        }
                    }
                    return nil
                }
            } catch {
                releasePollSlot()
                return Endpoint.failure(error, id: id, operation: operation, caller: caller)
            }
        }
        defer { if slot { releasePollSlot() } }
        do {
            let text = try store.callText(operation, request.map { UnsafePointer($0) })
            return Endpoint.answer(text, id: id, operation: operation, caller: caller, note: note)
        } catch {
            return Endpoint.failure(error, id: id, operation: operation, caller: caller)
        }
    }

    static func answer(_ text: UnsafeMutablePointer<CChar>, id: String, operation: String, caller: String?,
                       note: String? = nil) -> HTTPResponse {
        var out = HTTPResponse(status: 200, requestID: id, operation: operation, caller: caller)
        out.body = text
        out.count = strlen(text)
        out.note = note
        return out
    }

    static func failure(_ error: Error, id: String, operation: String, caller: String?) -> HTTPResponse {
        if let e = error as? OwdError {
            let (status, type, message) = Endpoint.wire(e)
            return Endpoint.error(status, type, message, id: id, operation: operation, caller: caller, detail: status >= 500 ? e.message : nil)
        }
        return Endpoint.error(500, "InternalFailure", "The server failed to answer the request", id: id, operation: operation, caller: caller)
    }

    /// Section 14: secrets cross the network only encrypted. nil when a PollCommands answer
    /// may hold them (TLS, or a loopback peer: the bytes never leave this machine); else
    /// the reason the answer gives, as `SecretsWithheld`, in their place.
    public static func secretsWithheld(tls: Bool, peerLoopback: Bool, peer: String) -> String? {
        if tls || peerLoopback { return nil }
        return "secrets withheld (*****FILTERED*****): this poll came over plain HTTP from \(printable(peer.isEmpty ? "an unknown address" : peer)), which is not this machine; serve with --tls-cert and --tls-key (https://) for agents on other machines"
    }

    func metricsPage(_ r: HTTPRequest, id: String) -> HTTPResponse {
        guard r.method == "GET" || r.method == "HEAD" else {
            return Endpoint.error(405, "MethodNotAllowed", "\(Endpoint.printable(r.method)) is not allowed on /metrics: use GET", id: id, operation: "/metrics")
        }
        var out = HTTPResponse(status: 200, json: false, requestID: id, operation: "/metrics")
        var text: String
        do {
            text = metrics!.text(store: try owner.metrics(), waitingPolls: waitingPollCount)
        } catch let e as OwdError {
            out.status = 500
            out.detail = e.message
            text = "# the store failed to answer: see the server's log\n"
        } catch {
            out.status = 500
            text = "# the store failed to answer\n"
        }
        out.prometheus = true
        out.body = strdup(text)
        out.count = out.body.map { strlen($0) } ?? 0
        return out
    }

    /// An `OwdError` on the wire: status, `__type`, message (section 2 and 13). 5xx only for
    /// what a retry may cure or the client cannot fix, and never with a path in the message.
    public static func wire(_ e: OwdError) -> (UInt32, String, String) {
        switch e {
        case .validation(let m), .invalidArgument(let m): return (400, "ValidationException", m)
        case .notFound(let m): return (400, "ResourceNotFoundException", m)
        case .accessDenied(let m): return (400, "AccessDeniedException", m)
        case .unknownOperation(let m): return (400, "UnknownOperationException", m)
        case .unsupportedOperation(let m): return (400, "UnsupportedOperationException", m)
        case .busy: return (503, "ServiceUnavailable", "The store is busy; retry the request")
        case .store, .outOfMemory, .internal: return (500, "InternalFailure", "The store failed to answer the request; the server's log says why")
        }
    }

    static func error(_ status: UInt32, _ type: String, _ message: String, id: String, operation: String,
                      caller: String? = nil, detail: String? = nil) -> HTTPResponse {
        var out = HTTPResponse(status: status, requestID: id, errorType: type, operation: operation, caller: caller)
        out.body = Store.errorText(type: type, message: message)
        out.count = out.body.map { strlen($0) } ?? 0
        out.detail = detail
        return out
    }

    static func header(_ headers: [(String, String)], _ lowercased: String) -> String? {
        for (n, v) in headers where sameName(n, lowercased) { return v }
        return nil
    }

    static func headerBytes(_ headers: [(String, String)]) -> Int {
        headers.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count + 4 }
    }

    /// The operation a refused request meant, for the log only.
    static func operationName(_ r: HTTPRequest) -> String? {
        guard let t = header(r.headers, "x-amz-target"), t.hasPrefix(targetPrefix) else { return nil }
        return printable(String(t.dropFirst(targetPrefix.count)))
    }

    /// A client's text quoted back: at most 128 characters, control characters as '?'.
    static func printable(_ s: String) -> String {
        var out = String(s.unicodeScalars.prefix(128).map { $0.value < 32 || $0.value == 127 ? "?" : Character($0) })
        if s.unicodeScalars.count > 128 { out += "..." }
        return out
    }

    static func text(of e: inout json_error_t) -> String {
        withUnsafeBytes(of: &e.text) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

extension HTTPResponse {
    init(status: UInt32, json: Bool = true, requestID: String, errorType: String? = nil, operation: String, caller: String? = nil) {
        self.status = status
        self.json = json
        self.requestID = requestID
        self.errorType = errorType
        self.operation = operation
        self.caller = caller
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}

/// x-amzn-RequestId: a new random (v4) UUID for every answer. Random bytes come from
/// getrandom 4 KiB at a time per thread (two syscalls per request were measured otherwise).
enum RequestID {
    final class Pool {
        var bytes = [UInt8](repeating: 0, count: 4096)
        var used = 4096
    }

    static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { if let p = $0 { Unmanaged<Pool>.fromOpaque(p).release() } }
        return k
    }()

    static func random16(_ out: UnsafeMutableRawBufferPointer) {
        let pool: Pool
        if let p = pthread_getspecific(key) {
            pool = Unmanaged<Pool>.fromOpaque(p).takeUnretainedValue()
        } else {
            pool = Pool()
            pthread_setspecific(key, Unmanaged.passRetained(pool).toOpaque())
        }
        if pool.used + 16 > pool.bytes.count {
            if pool.bytes.withUnsafeMutableBytes({ owdc_random($0.baseAddress, $0.count) }) != 0 {
                // No kernel randomness: the system generator (which traps rather than fail).
                var g = SystemRandomNumberGenerator()
                for k in 0..<pool.bytes.count { pool.bytes[k] = g.next() }
            }
            pool.used = 0
        }
        for k in 0..<16 { out[k] = pool.bytes[pool.used + k] }
        pool.used += 16
    }

    static func make() -> String {
        var raw = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &raw) { random16($0) }
        return withUnsafeMutableBytes(of: &raw) { b -> String in
            b[6] = (b[6] & 0x0F) | 0x40
            b[8] = (b[8] & 0x3F) | 0x80
            return String(unsafeUninitializedCapacity: 36) { out in
                var i = 0
                for k in 0..<16 {
                    if k == 4 || k == 6 || k == 8 || k == 10 { out[i] = UInt8(ascii: "-"); i += 1 }
                    out[i] = Hex.lower[Int(b[k] >> 4)]
                    out[i + 1] = Hex.lower[Int(b[k] & 15)]
                    i += 2
                }
                return 36
            }
        }
    }
}
