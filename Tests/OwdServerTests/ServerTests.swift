import Foundation
import OwdCore
@testable import OwdServer
import Testing

/// The HTTP layer (libmicrohttpd and its C glue) with the endpoint above it, over real
/// loopback sockets from several threads at once: what `make sanitize` runs under ASan and
/// TSan (the Python suite drives the built program the same way).
@Suite("The server over loopback")
struct ServerTests {
    /// One keep-alive connection: sends requests, reads answers by Content-Length.
    final class Connection {
        let fd: Int32
        var buffer: [UInt8] = []

        init(port: UInt16) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            a.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard rc == 0 else { throw POSIXError(.ECONNREFUSED) }
        }

        deinit { close(fd) }

        func send(_ text: [UInt8]) {
            var done = 0
            while done < text.count {
                let n = text.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return }
                done += n
            }
        }

        /// (status, headers lowercased, body), or nil when the server closed the connection.
        func answer() -> (Int, [String: String], String)? {
            func fill() -> Bool {
                var chunk = [UInt8](repeating: 0, count: 65536)
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return false }
                buffer += chunk[0..<n]
                return true
            }
            while buffer.firstRange(of: Array("\r\n\r\n".utf8)) == nil { if !fill() { return nil } }
            let end = buffer.firstRange(of: Array("\r\n\r\n".utf8))!
            let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
            var headers: [String: String] = [:]
            for line in head.dropFirst() {
                if let colon = line.firstIndex(of: ":") {
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            while buffer.count < end.upperBound + length { if !fill() { return nil } }
            let body = String(decoding: buffer[end.upperBound..<(end.upperBound + length)], as: UTF8.self)
            buffer.removeFirst(end.upperBound + length)
            let status = Int(head[0].split(separator: " ")[1]) ?? 0
            return (status, headers, body)
        }
    }

    static func request(_ operation: String, _ body: String, port: UInt16) -> [UInt8] {
        let s = EndpointTests.signed(operation, body)
        var text = "POST / HTTP/1.1\r\n"
        for (n, v) in s.headers where n != "Host" { text += "\(n): \(v)\r\n" }
        text += "Host: 127.0.0.1:4566\r\nContent-Length: \(s.body.count)\r\n\r\n"
        return Array(text.utf8) + s.body
    }

    @Test("concurrent requests from 4 threads over keep-alive connections, then a clean stop")
    func concurrentRequestsOverLoopback() throws {
        let store = try Store(path: nil)
        let v = SigV4Verifier(region: "us-east-1", credentials: [EndpointTests.owner], clock: { EndpointTests.now })
        let endpoint = Endpoint(store: store, verifier: v)
        var options = Server.Options()
        options.port = 0
        options.threads = 2
        let server = try Server(endpoint: endpoint, log: RequestLog(quiet: true), options: options)
        #expect(server.port != 0)
        let stack = try store.call("CreateStack", json: EndpointTests.createStack).split(separator: "\"")[3]
        let port = server.port
        let failures = Locked(0)
        let created = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            guard let c = try? Connection(port: port) else { failures.add(1); return }
            for i in 0..<50 {
                let (op, body) = i % 5 == 0
                    ? ("CreateLayer", #"{"StackId":"\#(stack)","Type":"custom","Name":"l\#(t)-\#(i)","Shortname":"l\#(t)x\#(i)"}"#)
                    : ("DescribeLayers", #"{"StackId":"\#(stack)"}"#)
                c.send(ServerTests.request(op, body, port: port))
                guard let (status, headers, text) = c.answer(), status == 200, headers["x-amzn-requestid"]?.count == 36,
                      headers["content-type"] == "application/x-amz-json-1.1", text.hasPrefix("{") else {
                    failures.add(1); return
                }
                if op == "CreateLayer" { created.add(1) }
            }
            c.send(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            if c.answer()?.2 != "ok\n" { failures.add(1) }
        }
        #expect(failures.value == 0)
        #expect(created.value == 40)
        let layers = try store.call("DescribeLayers", json: #"{"StackId":"\#(stack)"}"#)
        #expect(layers.components(separatedBy: "\"LayerId\"").count - 1 == 40)
        server.quiesce()
        // A request stops counting once libmicrohttpd has finished with it, which may be a
        // moment after the client read the answer.
        var waited = 0
        while server.inFlight > 0 && waited < 200 { usleep(10_000); waited += 1 }
        #expect(server.inFlight == 0)
        server.stop()
    }

    @Test("bounds at the HTTP layer: 413 by Content-Length before the body, 431 by the headers' size")
    func boundsOverLoopback() throws {
        let store = try Store(path: nil)
        let endpoint = Endpoint(store: store, verifier: nil)
        var options = Server.Options()
        options.port = 0
        options.threads = 1
        let server = try Server(endpoint: endpoint, log: RequestLog(quiet: true), options: options)
        defer { server.stop() }
        var c = try Connection(port: server.port)
        c.send(Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \(17 * 1024 * 1024)\r\n\r\n".utf8))
        let big = try #require(c.answer())
        #expect(big.0 == 413 && big.1["x-amzn-errortype"] == "RequestEntityTooLarge")
        c = try Connection(port: server.port)
        c.send(Array("GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: \(String(repeating: "p", count: 65 * 1024))\r\n\r\n".utf8))
        let wide = try #require(c.answer())
        #expect(wide.0 == 431 && wide.1["x-amzn-errortype"] == "RequestHeaderFieldsTooLarge")
        c = try Connection(port: server.port)
        c.send(Array("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Amz-Target: OpsWorks_20130218.DescribeStacks\r\n\r\n".utf8))
        let chunk = [UInt8](repeating: 32, count: 1 << 20)
        for _ in 0..<17 { c.send(Array("100000\r\n".utf8) + chunk + Array("\r\n".utf8)) }
        c.send(Array("0\r\n\r\n".utf8))
        let counted = try #require(c.answer())
        #expect(counted.0 == 413)
        #expect(try store.call("DescribeStacks", json: "{}") == #"{"Stacks":[]}"#)
    }
}

final class Locked: @unchecked Sendable {
    private let lock = NSLock()
    private var v: Int
    init(_ v: Int) { self.v = v }
    func add(_ n: Int) { lock.lock(); v += n; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return v }
}
