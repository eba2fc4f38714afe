import COwdHTTP
import OwdCore
#if canImport(Glibc)
import Glibc
#endif

/// One line per request on stderr: time, operation, status, duration, request id, caller.
/// Never a secret, a signature, a header's value or a body.
public final class RequestLog: @unchecked Sendable {
    let fd: Int32
    public let quiet: Bool

    public init(fd: Int32 = 2, quiet: Bool) {
        self.fd = fd
        self.quiet = quiet
    }

    public static func line(time: Int64, micros: Int, _ r: HTTPResponse, elapsed: Double) -> String {
        var s = Time.line(time)
        s += " "
        s += r.operation
        s += " "
        s += String(r.status)
        if let type = r.errorType { s += " "; s += type }
        s += " "
        s += Time.ms(elapsed)
        s += " "
        s += r.requestID
        s += " "
        s += r.caller ?? "owner"
        if let detail = r.detail { s += " ("; s += Endpoint.printable(detail); s += ")" }
        if let note = r.note { s += " ("; s += note; s += ")" }
        s += "\n"
        return s
    }

    /// `t` (Unix seconds) as the log lines show it: 2026-12-01T14:03:00Z.
    public static func timestamp(_ t: Int64) -> String { Time.line(t) }

    public func write(_ text: String) {
        var t = text
        t.withUTF8 { b in
            var done = 0
            while done < b.count {
                let n = Glibc.write(fd, b.baseAddress! + done, b.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                done += n
            }
        }
    }

    func record(_ r: HTTPResponse, nanoseconds: UInt64) {
        if quiet { return }
        write(RequestLog.line(time: Int64(Glibc.time(nil)), micros: 0, r, elapsed: Double(nanoseconds) / 1e9))
    }
}

public enum Time {
    public static func line(_ t: Int64) -> String {
        let d = SigV4Verifier.amzDate(t)
        let b = Array(d.utf8)
        func p(_ r: Range<Int>) -> String { String(decoding: b[r], as: UTF8.self) }
        return "\(p(0..<4))-\(p(4..<6))-\(p(6..<8))T\(p(9..<11)):\(p(11..<13)):\(p(13..<15))Z"
    }

    static func ms(_ seconds: Double) -> String {
        let us = Int((seconds * 1e6).rounded())
        let frac = us % 1000
        return "\(us / 1000).\(frac < 10 ? "00" : frac < 100 ? "0" : "")\(frac)ms"
    }
}

/// The HTTP server: libmicrohttpd's thread pool (epoll) with the endpoint above it.
public final class Server {
    public struct Options {
        public var host = "127.0.0.1"
        public var port: UInt16 = 4566
        public var threads: UInt32 = 4
        public var idleTimeout: UInt32 = 30
        public var maxConnections: UInt32 = 1024
        /// HTTPS only with this certificate and key; nil: plain HTTP.
        public var tls: TLSIdentity?
        public init() {}
    }

    final class Context {
        let endpoint: Endpoint
        let log: RequestLog
        init(endpoint: Endpoint, log: RequestLog) {
            self.endpoint = endpoint
            self.log = log
        }
    }

    public struct StartFailure: Error, CustomStringConvertible {
        public let description: String
    }

    let context: Unmanaged<Context>
    var server: OpaquePointer?
    public private(set) var port: UInt16 = 0

    public init(endpoint: Endpoint, log: RequestLog, options: Options) throws {
        context = Unmanaged.passRetained(Context(endpoint: endpoint, log: log))
        var err = [CChar](repeating: 0, count: 256)
        let cert = options.tls?.certificate, key = options.tls?.key
        let started: OpaquePointer? = options.host.withCString { host in
          optionalCString(cert) { cert in
          optionalCString(key) { key in
            var o = owdh_options()
            o.tls_cert = cert
            o.tls_key = key
            o.host = host
            o.port = options.port
            o.threads = options.threads
            o.idle_timeout = options.idleTimeout
            o.max_body = Endpoint.maxBody
            o.max_headers = Endpoint.maxHeaders
            o.max_connections = options.maxConnections
            o.handler = serveOne
            o.context = UnsafeMutableRawPointer(context.toOpaque())
            return owdh_start(&o, &err, err.count)
          }
          }
        }
        guard let started else {
            context.release()
            throw StartFailure(description: String(cString: err))
        }
        server = started
        port = owdh_port(started)
    }

    /// Stops accepting connections.
    public func quiesce() { owdh_quiesce(server) }

    public var inFlight: UInt32 { owdh_in_flight(server) }

    /// Answers every waiting poll at once (empty: its agent polls again), and later ones
    /// without a wait: for a prompt stop.
    public func finishWaitingPolls() {
        Unmanaged<Context>.fromOpaque(context.toOpaque()).takeUnretainedValue().endpoint.finishWaitingPolls()
    }

    /// Closes every connection (after `quiesce` and the wait for requests in flight).
    public func stop() {
        guard let s = server else { return }
        // No connection may stay suspended past owdh_stop: every waiting poll is answered first.
        finishWaitingPolls()
        server = nil
        owdh_stop(s)
        context.release()
    }

    deinit { stop() }
}

/// The C callback: one request in, one response out now, or (a waiting PollCommands) later
/// through its ticket, from the poll waiter's thread.
private func serveOne(_ context: UnsafeMutableRawPointer?, _ request: UnsafePointer<owdh_request>?,
                      _ response: UnsafeMutablePointer<owdh_response>?, _ ticket: OpaquePointer?) {
    guard let context, let request, let response else { return }
    var started = timespec()
    clock_gettime(CLOCK_MONOTONIC, &started)
    let c = Unmanaged<Server.Context>.fromOpaque(context).takeUnretainedValue()
    let r = request.pointee
    func string(_ p: UnsafePointer<CChar>?, _ n: Int) -> String {
        guard let p else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: n), as: UTF8.self)
    }
    func fields(_ p: UnsafePointer<owdh_field>?, _ n: Int) -> [(String, String)] {
        guard let p else { return [] }
        var out: [(String, String)] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            let f = p[i]
            out.append((string(f.name, f.name_len), string(f.value, f.value_len)))
        }
        return out
    }
    let http = HTTPRequest(method: r.method.map { String(cString: $0) } ?? "",
                           path: r.path.map { String(cString: $0) } ?? "",
                           query: fields(r.query, r.query_count),
                           headers: fields(r.headers, r.header_count),
                           body: UnsafeRawBufferPointer(start: r.body, count: r.body_len),
                           refused: r.refused,
                           tls: r.tls != 0, peerLoopback: r.peer_loopback != 0,
                           peer: withUnsafeBytes(of: r.peer) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
    let log = c.log
    let metrics = c.endpoint.metrics
    // The request's time, metrics and log line, when its answer is handed over (now, or
    // from the poll waiter's thread for a deferred PollCommands).
    func finished(_ out: HTTPResponse) {
        var done = timespec()
        clock_gettime(CLOCK_MONOTONIC, &done)
        let ns = UInt64(max(0, Int64(done.tv_sec - started.tv_sec) * 1_000_000_000 + Int64(done.tv_nsec - started.tv_nsec)))
        metrics?.record(operation: out.operation, status: out.status, nanoseconds: ns)
        log.record(out, nanoseconds: ns)
    }
    if let ticket {
        let now = c.endpoint.handle(http) { out in
            var answer = owdh_response()
            fill(&answer, out)
            owdh_answer(ticket, &answer)
            finished(out)
        }
        guard let now else {
            response.pointee.deferred = 1
            return
        }
        fill(&response.pointee, now)
        finished(now)
    } else {
        let out = c.endpoint.handle(http)
        fill(&response.pointee, out)
        finished(out)
    }
}

private func fill(_ response: inout owdh_response, _ out: HTTPResponse) {
    response.status = out.status
    response.content = out.prometheus ? Int32(OWDH_METRICS) : out.json ? Int32(OWDH_JSON) : Int32(OWDH_TEXT)
    response.body = out.body
    response.body_len = out.count
    copy(out.requestID, into: &response.request_id)
    copy(out.errorType ?? "", into: &response.error_type)
}

private func optionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}

private func copy<T>(_ s: String, into field: inout T) {
    withUnsafeMutableBytes(of: &field) { raw in
        let n = min(s.utf8.count, raw.count - 1)
        var i = 0
        for b in s.utf8.prefix(n) { raw[i] = b; i += 1 }
        raw[n] = 0
    }
}
