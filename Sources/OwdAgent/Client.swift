import CJansson
import COwdAgent
import OwdCore
import OwdServer
#if canImport(Glibc)
import Glibc
#endif

/// Where the agent's requests go: an http:// or https:// URL without query, its authority
/// the signed Host header.
public struct Endpoint: Sendable, Equatable {
    public let url: String
    public let host: String
    public let path: String

    public init(_ text: String) throws {
        var url = text
        let scheme: String
        if url.hasPrefix("http://") { scheme = "http://" }
        else if url.hasPrefix("https://") { scheme = "https://" }
        else { throw AgentFailure("--endpoint must start with http:// or https://, not \(text)") }
        let rest = url.dropFirst(scheme.count)
        guard !rest.contains("?"), !rest.contains("#") else { throw AgentFailure("--endpoint must have no query or fragment") }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        guard !authority.isEmpty, !authority.contains("@") else { throw AgentFailure("--endpoint has no host: \(text)") }
        var path = String(rest[slash...])
        if path.isEmpty { path = "/"; url += "/" }
        self.url = url
        self.path = path
        // As sent by HTTP clients: the default port is left out.
        if scheme == "http://" && authority.hasSuffix(":80") { self.host = String(authority.dropLast(3)) }
        else if scheme == "https://" && authority.hasSuffix(":443") { self.host = String(authority.dropLast(4)) }
        else { self.host = authority }
    }
}

public struct AgentFailure: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How a call ended when it did not answer 200.
public enum CallError: Error, Equatable {
    /// No answer: connection refused or lost, a timeout, a TLS failure.
    case transport(String)
    /// The call was abandoned because the agent is stopping.
    case aborted
    /// An answer other than 200: AWS's error code and message.
    case service(status: Int, type: String, message: String)

    /// Worth trying again later (the server, or the way to it, may come back).
    public var transient: Bool {
        switch self {
        case .transport, .aborted: return true
        case .service(let status, let type, _):
            return status >= 500 || type == "ThrottlingException" || type == "RequestExpired"
        }
    }

    public var description: String {
        switch self {
        case .transport(let m): return m
        case .aborted: return "stopped"
        case .service(let status, let type, let message): return "\(type) (\(status)): \(message)"
        }
    }
}

/// The OpsWorks JSON 1.1 API over one libcurl handle (one keep-alive connection, or a new
/// connection per request), every request signed with SigV4. One client per thread.
public final class OpsWorksClient {
    let endpoint: Endpoint
    let signer: SigV4Signer
    let handle: OpaquePointer
    /// Set (by another thread) to abandon a waiting call.
    let stop: UnsafeMutablePointer<Int32>?

    public init(endpoint: Endpoint, signer: SigV4Signer, caFile: String?, insecure: Bool, keepAlive: Bool = true,
                stop: UnsafeMutablePointer<Int32>? = nil) throws {
        self.endpoint = endpoint
        self.signer = signer
        self.stop = stop
        var err = [CChar](repeating: 0, count: 256)
        guard let h = owda_client_new(caFile, insecure ? 1 : 0, keepAlive ? 1 : 0, &err, err.count) else {
            throw AgentFailure(String(cString: err))
        }
        handle = h
    }

    deinit { owda_client_free(handle) }

    /// From another thread: a waiting call looks at the stop flag now.
    public func wake() { owda_client_wake(handle) }

    /// Calls `operation` with `request`; the answer as a new jansson reference.
    public func call(_ operation: String, _ request: Value, timeout: Int = 30) -> Result<UnsafeMutablePointer<json_t>, CallError> {
        let body: String
        do { body = try request.jsonText() } catch { return .failure(.transport("cannot encode the request: \(error)")) }
        var bytes = Array(body.utf8)
        let base = [("Host", endpoint.host), ("Content-Type", "application/x-amz-json-1.1"),
                    ("X-Amz-Target", "OpsWorks_20130218.\(operation)")]
        let headers = bytes.withUnsafeBytes {
            signer.sign(method: "POST", path: endpoint.path, headers: base, body: $0, time: Int64(time(nil)))
        }
        let lines = headers.map { "\($0.0): \($0.1)" }
        var response = owda_response()
        let rc: Int32 = withCStrings(lines) { pointers in
            bytes.withUnsafeMutableBytes { b in
                owda_post(handle, endpoint.url, pointers, pointers.count, b.baseAddress, b.count, timeout, stop, &response)
            }
        }
        defer { owda_response_free(&response) }
        if rc == OWDA_ABORTED { return .failure(.aborted) }
        if rc != OWDA_OK {
            return .failure(.transport(withUnsafeBytes(of: &response.error) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }))
        }
        let text = String(decoding: UnsafeRawBufferPointer(start: response.body, count: response.body_len), as: UTF8.self)
        let status = Int(response.status)
        let parsed = try? JSON.loads(text.isEmpty ? "{}" : text)
        if status == 200 {
            guard let parsed, cjansson_typeof(parsed) == Int32(JSON_OBJECT.rawValue) else {
                if let parsed { cjansson_decref(parsed) }
                return .failure(.transport("\(operation): the answer is not a JSON object"))
            }
            return .success(parsed)
        }
        defer { if let parsed { cjansson_decref(parsed) } }
        var type = parsed.flatMap { J.string($0, "__type") } ?? "HTTP\(status)"
        if let hash = type.lastIndex(of: "#") { type = String(type[type.index(after: hash)...]) }
        let message = parsed.flatMap { J.string($0, "message") ?? J.string($0, "Message") } ?? ""
        return .failure(.service(status: status, type: type, message: message))
    }
}

/// C strings for the duration of body.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return body(copies.map { UnsafePointer($0) })
}

/// Reading jansson values (borrowed references).
enum J {
    static func string(_ o: UnsafePointer<json_t>?, _ key: String) -> String? {
        guard let o, let v = json_object_get(o, key), cjansson_typeof(v) == Int32(JSON_STRING.rawValue),
              let s = json_string_value(v) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: s, count: json_string_length(v)), as: UTF8.self)
    }

    static func array(_ o: UnsafePointer<json_t>?, _ key: String) -> [UnsafeMutablePointer<json_t>] {
        guard let o, let v = json_object_get(o, key), cjansson_typeof(v) == Int32(JSON_ARRAY.rawValue) else { return [] }
        return (0..<json_array_size(v)).compactMap { json_array_get(v, $0) }
    }
}
