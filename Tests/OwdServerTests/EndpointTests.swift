import CJansson
import Foundation
import OwdCore
@testable import OwdServer
import Testing

/// behaviour.md section 13 above the HTTP library: routing, authentication, the call, and
/// every answer's status, `__type`, `X-Amzn-ErrorType` and `x-amzn-RequestId`.
@Suite("Section 13: the endpoint")
struct EndpointTests {
    static let owner = Credential(accessKeyID: "AKIDOWNER", secretAccessKey: "owner-secret-key-0123456789", iamUserArn: nil)
    static let show = Credential(accessKeyID: "AKIDSHOW", secretAccessKey: "show-secret-key-0123456789",
                                 iamUserArn: "arn:aws:iam::123456789012:user/show")
    static let now: Int64 = 1_440_938_160

    let store: Store
    let endpoint: Endpoint

    init() throws {
        store = try Store(path: nil)
        let v = SigV4Verifier(region: "us-east-1", credentials: [EndpointTests.owner, EndpointTests.show], clock: { EndpointTests.now })
        endpoint = Endpoint(store: store, verifier: v)
    }

    /// A request signed like an SDK signs it (the canonical request computed independently
    /// of the verifier's parse: host, x-amz-date, x-amz-target signed).
    static func signed(_ operation: String, _ body: String, _ c: Credential = owner, region: String = "us-east-1",
                       at: Int64 = now, extra: [(String, String)] = []) -> (headers: [(String, String)], body: [UInt8]) {
        let date = SigV4Verifier.amzDate(at)
        var headers: [(String, String)] = [("Host", "127.0.0.1:4566"), ("X-Amz-Date", date),
                                           ("X-Amz-Target", "OpsWorks_20130218.\(operation)"),
                                           ("Content-Type", "application/x-amz-json-1.1")] + extra
        let bytes = Array(body.utf8)
        let names = ["content-type", "host", "x-amz-date", "x-amz-target"]
        let creq = bytes.withUnsafeBytes { b in
            SigV4Verifier.canonicalRequest(SignedRequest(method: "POST", path: "/", headers: headers, body: b), signedHeaders: names)
        }
        let scope = "\(date.prefix(8))/\(region)/opsworks/aws4_request"
        let sts = SigV4Verifier.stringToSign(amzDate: date, scope: scope, canonicalRequest: creq)
        let key = SigV4Verifier.signingKey(secret: c.secretAccessKey, day: String(date.prefix(8)), region: region, service: "opsworks")
        let signature: String = Hex.encode(hmac(key, Array(sts.utf8)))
        headers.append(("Authorization", "AWS4-HMAC-SHA256 Credential=\(c.accessKeyID)/\(scope), SignedHeaders=\(names.joined(separator: ";")), Signature=\(signature)"))
        return (headers, bytes)
    }

    func send(_ method: String = "POST", _ path: String = "/", headers: [(String, String)], body: [UInt8] = [],
              refused: UInt32 = 0) -> (status: UInt32, type: String?, json: [String: Any], response: HTTPResponse) {
        var r = body.withUnsafeBytes { b in
            endpoint.handle(HTTPRequest(method: method, path: path, headers: headers, body: b, refused: refused))
        }
        defer { r.release() }
        let json = (try? JSONSerialization.jsonObject(with: Data(r.text.utf8))) as? [String: Any] ?? [:]
        if r.status != 200, r.json {
            // Every error: {"__type", "message"} and the same code in X-Amzn-ErrorType.
            #expect(Set(json.keys) == ["__type", "message"])
            #expect(json["__type"] as? String == r.errorType)
        }
        #expect(r.requestID.count == 36)
        var copy = r
        copy.body = nil
        return (r.status, r.errorType, json, copy)
    }

    func call(_ operation: String, _ body: String, _ c: Credential = owner) -> (UInt32, String?, [String: Any]) {
        let s = EndpointTests.signed(operation, body, c)
        let r = send(headers: s.headers, body: s.body)
        return (r.status, r.type, r.json)
    }

    static let createStack = #"{"Name":"s","Region":"us-east-1","ServiceRoleArn":"arn:aws:iam::1:role/r","DefaultInstanceProfileArn":"arn:aws:iam::1:instance-profile/p"}"#

    @Test("a signed call is answered 200 with the operation's response")
    func signedCall() throws {
        let (status, type, json) = call("CreateStack", EndpointTests.createStack)
        #expect(status == 200 && type == nil)
        let id = try #require(json["StackId"] as? String)
        #expect(try store.call("DescribeStacks", json: "{}").contains(id))
    }

    @Test("an empty body is {}")
    func emptyBody() {
        let (status, _, json) = call("DescribeStacks", "")
        #expect(status == 200 && (json["Stacks"] as? [Any])?.isEmpty == true)
    }

    @Test("the caller is the credential's IAM user: a show user is AccessDeniedException, 400")
    func identity() throws {
        let (status, type, json) = call("CreateUserProfile", #"{"IamUserArn":"arn:aws:iam::1:user/x"}"#, EndpointTests.show)
        #expect(status == 400 && type == "AccessDeniedException")
        #expect((json["message"] as? String)?.hasPrefix("User: arn:aws:iam::123456789012:user/show is not authorized") == true)
        #expect(try store.call("DescribeUserProfiles", json: "{}") == #"{"UserProfiles":[]}"#)
    }

    @Test("section 2's codes: not found and validation are 400 with AWS's names")
    func operationErrors() {
        var (status, type, json) = call("DescribeStacks", #"{"StackIds":["6ed0df4c-9ef7-4812-8dac-d54a05be1029"]}"#)
        #expect(status == 400 && type == "ResourceNotFoundException")
        #expect(json["message"] as? String == "Unable to find stack with ID 6ed0df4c-9ef7-4812-8dac-d54a05be1029")
        (status, type, json) = call("DescribeStacks", #"{"Bogus":1}"#)
        #expect(status == 400 && type == "ValidationException")
    }

    @Test("a body that is not a JSON object is SerializationException and changes nothing", arguments: ["{", "[]", "1", "\"s\"", "{\"a\":1,\"a\":2}", "\u{FF}"])
    func notAnObject(_ body: String) throws {
        var bytes = Array(body.utf8)
        if body == "\u{FF}" { bytes = [0xFF, 0xFE] }
        var s = EndpointTests.signed("CreateStack", "")
        s = EndpointTests.signed("CreateStack", String(decoding: bytes, as: UTF8.self))
        let r = send(headers: s.headers, body: Array(String(decoding: bytes, as: UTF8.self).utf8))
        #expect(r.status == 400 && r.type == "SerializationException")
        #expect(try store.call("DescribeStacks", json: "{}") == #"{"Stacks":[]}"#)
    }

    @Test("targets: missing or foreign is UnknownOperation, an OpsWorks operation owd lacks is UnsupportedOperation")
    func targets() {
        #expect(call("NoSuch", "{}").1 == "UnknownOperationException")
        #expect(call("RegisterVolume", "{}").1 == "UnsupportedOperationException")
        #expect(call("DescribeDeployments", "{}").0 == 200)
        var s = EndpointTests.signed("x", "{}")
        s.headers = s.headers.filter { $0.0 != "X-Amz-Target" }
        // Not signed any more either: the signature is checked first.
        #expect(send(headers: s.headers, body: s.body).type == "InvalidSignatureException")
        #expect(Model.awsOperations.count == 74)
        #expect(Set(Store.operations).subtracting(Model.awsOperations) == ["AcknowledgeCommand", "CompleteCommand", "PollCommands", "GetCommandLog"])
    }

    @Test("authentication refusals: 403 without Authorization, 400 otherwise, nothing changed")
    func authRefusals() throws {
        var s = EndpointTests.signed("CreateStack", EndpointTests.createStack)
        let unsigned = s.headers.filter { $0.0 != "Authorization" }
        var r = send(headers: unsigned, body: s.body)
        #expect(r.status == 403 && r.type == "MissingAuthenticationTokenException")
        let stranger = Credential(accessKeyID: "AKIDSTRANGER", secretAccessKey: "x", iamUserArn: nil)
        s = EndpointTests.signed("CreateStack", EndpointTests.createStack, stranger)
        #expect(send(headers: s.headers, body: s.body).type == "UnrecognizedClientException")
        s = EndpointTests.signed("CreateStack", EndpointTests.createStack, region: "eu-west-1")
        #expect(send(headers: s.headers, body: s.body).type == "InvalidSignatureException")
        s = EndpointTests.signed("CreateStack", EndpointTests.createStack, at: EndpointTests.now - 301)
        r = send(headers: s.headers, body: s.body)
        #expect(r.type == "InvalidSignatureException" && (r.json["message"] as? String)?.hasPrefix("Signature expired") == true)
        s = EndpointTests.signed("CreateStack", EndpointTests.createStack)
        #expect(send(headers: s.headers, body: Array("{}".utf8)).type == "InvalidSignatureException")
        #expect(try store.call("DescribeStacks", json: "{}") == #"{"Stacks":[]}"#)
    }

    @Test("--no-auth: no signature checked, the owner")
    func noAuth() throws {
        let open = Endpoint(store: store, verifier: nil)
        var r = Array("{}".utf8).withUnsafeBytes {
            open.handle(HTTPRequest(method: "POST", path: "/", headers: [("X-Amz-Target", "OpsWorks_20130218.DescribeUserProfiles")], body: $0))
        }
        defer { r.release() }
        #expect(r.status == 200 && r.text == #"{"UserProfiles":[]}"#)
    }

    @Test("/health is 200 ok without authentication; other paths 404, other methods 405")
    func routes() {
        var r = send("GET", "/health", headers: [])
        #expect(r.status == 200 && r.response.json == false)
        r = send("HEAD", "/health", headers: [])
        #expect(r.status == 200)
        #expect(send("GET", "/", headers: []).status == 405)
        #expect(send("PUT", "/", headers: []).status == 405)
        #expect(send("POST", "/health", headers: []).status == 405)
        #expect(send("GET", "/favicon.ico", headers: []).status == 404)
        #expect(send("POST", "/x/../", headers: []).status == 404)
    }

    @Test("bounds: 413 and 431, whatever the HTTP layer saw or not")
    func bounds() {
        let s = EndpointTests.signed("CreateStack", EndpointTests.createStack)
        #expect(send(headers: s.headers, body: s.body, refused: 413).status == 413)
        #expect(send(headers: s.headers, body: s.body, refused: 431).status == 431)
        let big = s.headers + [("X-Pad", String(repeating: "p", count: 64 * 1024))]
        #expect(send(headers: big, body: s.body).status == 431)
        let huge = [UInt8](repeating: 32, count: Endpoint.maxBody + 1)
        #expect(send(headers: s.headers, body: huge).status == 413)
    }

    @Test("a new request id on every answer")
    func requestIDs() {
        var ids = Set<String>()
        for _ in 0..<100 { ids.insert(send("GET", "/health", headers: []).response.requestID) }
        #expect(ids.count == 100)
        for id in ids {
            let b = Array(id.utf8)
            #expect(b[14] == UInt8(ascii: "4") && [UInt8(ascii: "8"), UInt8(ascii: "9"), UInt8(ascii: "a"), UInt8(ascii: "b")].contains(b[19]))
        }
    }

    @Test("error mapping: busy is 503 ServiceUnavailable, store failures 500 InternalFailure without the path")
    func wire() {
        #expect(Endpoint.wire(.busy("database is locked")) == (503, "ServiceUnavailable", "The store is busy; retry the request"))
        let (status, type, message) = Endpoint.wire(.store("cannot write /var/lib/owd/secret-place.owd: disk full"))
        #expect(status == 500 && type == "InternalFailure" && !message.contains("/var/lib"))
        #expect(Endpoint.wire(.outOfMemory).0 == 500)
        #expect(Endpoint.wire(.internal("x")).0 == 500)
        #expect(Endpoint.wire(.validation("m")) == (400, "ValidationException", "m"))
        #expect(Endpoint.wire(.notFound("m")) == (400, "ResourceNotFoundException", "m"))
        #expect(Endpoint.wire(.accessDenied("m")) == (400, "AccessDeniedException", "m"))
        #expect(Endpoint.wire(.unknownOperation("m")) == (400, "UnknownOperationException", "m"))
        #expect(Endpoint.wire(.invalidArgument("m")).0 == 400)
    }

    @Test("the log line: time, operation, status, duration, request id, caller; never a secret or signature")
    func logLine() {
        let s = EndpointTests.signed("DescribeStacks", #"{"StackIds":["body-marker"]}"#, EndpointTests.show)
        let r = send(headers: s.headers, body: s.body)
        let line = RequestLog.line(time: EndpointTests.now, micros: 0, r.response, elapsed: 0.000421)
        #expect(line == "2015-08-30T12:36:00Z DescribeStacks 400 ResourceNotFoundException 0.421ms \(r.response.requestID) arn:aws:iam::123456789012:user/show\n")
        let signature = s.headers.first { $0.0 == "Authorization" }!.1.components(separatedBy: "Signature=")[1]
        #expect(!line.contains(signature) && !line.contains(EndpointTests.show.secretAccessKey) && !line.contains("body-marker"))
    }
}

@Suite("The credentials file")
struct CredentialsFileTests {
    func file(_ text: String, mode: mode_t) throws -> String {
        let path = NSTemporaryDirectory() + "owd-credentials-\(UUID().uuidString).json"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
        return path
    }

    @Test("0600 loads; IamUserArn absent is the owner")
    func loads() throws {
        let path = try file(#"{"Credentials":[{"AccessKeyId":"A","SecretAccessKey":"S","IamUserArn":"arn:aws:iam::1:user/u"},{"AccessKeyId":"B","SecretAccessKey":"T"}]}"#, mode: 0o600)
        defer { unlink(path) }
        #expect(try CredentialsFile.load(path: path) == [
            Credential(accessKeyID: "A", secretAccessKey: "S", iamUserArn: "arn:aws:iam::1:user/u"),
            Credential(accessKeyID: "B", secretAccessKey: "T", iamUserArn: nil)])
    }

    @Test("a file that group or others can read or write is refused, like ssh, saying so", arguments: [0o644, 0o640, 0o604, 0o620, 0o606])
    func tooOpen(_ mode: Int) throws {
        let path = try file(#"{"Credentials":[{"AccessKeyId":"A","SecretAccessKey":"TOPSECRET"}]}"#, mode: mode_t(mode))
        defer { unlink(path) }
        #expect(throws: CredentialsFile.Failure.self) { try CredentialsFile.load(path: path) }
        do { _ = try CredentialsFile.load(path: path) } catch {
            #expect("\(error)".contains("permissions 0\(String(mode, radix: 8))") && "\(error)".contains("too open"))
            #expect(!"\(error)".contains("TOPSECRET"))
        }
    }

    @Test("malformed files are refused with a reason and never quote a secret", arguments: [
        "", "{", "[]", #"{"Credentials":{}}"#, #"{"Credentials":[]}"#, #"{"Credentials":[1]}"#,
        #"{"Credentials":[{"SecretAccessKey":"TOPSECRET"}]}"#, #"{"Credentials":[{"AccessKeyId":"A"}]}"#,
        #"{"Credentials":[{"AccessKeyId":"A","SecretAccessKey":5}]}"#,
        #"{"Credentials":[{"AccessKeyId":"A","SecretAccessKey":"TOPSECRET","Extra":1}]}"#,
        #"{"Credentials":[{"AccessKeyId":"A","SecretAccessKey":"TOPSECRET","IamUserArn":"bob"}]}"#,
        #"{"Credentials":[{"AccessKeyId":"A","SecretAccessKey":"TOPSECRET"},{"AccessKeyId":"A","SecretAccessKey":"TOPSECRET2"}]}"#,
    ])
    func malformed(_ text: String) throws {
        let path = try file(text, mode: 0o600)
        defer { unlink(path) }
        do {
            _ = try CredentialsFile.load(path: path)
            Issue.record("loaded \(text)")
        } catch {
            #expect(!"\(error)".contains("TOPSECRET"))
            #expect("\(error)".contains(path))
        }
    }

    @Test("a missing file is refused naming it")
    func missing() {
        #expect(throws: CredentialsFile.Failure.self) { try CredentialsFile.load(path: "/nonexistent/owd-credentials.json") }
    }
}

@Suite("owd model install")
struct ModelTests {
    @Test("service-2.json keeps every AWS operation with its documentation and gains owd's own")
    func merged() throws {
        let text = try Model.mergedService()
        let model = try JSONSerialization.jsonObject(with: Data(text)) as! [String: Any]
        let operations = model["operations"] as! [String: [String: Any]]
        #expect(operations.count == 78)
        for own in ["AcknowledgeCommand", "CompleteCommand", "PollCommands", "GetCommandLog"] {
            #expect(operations[own]?["input"] != nil, "\(own)")
        }
        // Merged as botocore merges: the extras' errors added, the operation's own members kept.
        let create = operations["CreateStack"]!
        #expect(create["input"] as? [String: String] == ["shape": "CreateStackRequest"])
        #expect((create["documentation"] as? String)?.isEmpty == false)
        let shapes = model["shapes"] as! [String: Any]
        #expect(shapes["OwdCommandResult"] != nil)
    }

    @Test("install writes the three files into DIR/opsworks/2013-02-18")
    func install() throws {
        let dir = NSTemporaryDirectory() + "owd-model-\(UUID().uuidString)/a/b"
        let written = try Model.install(into: dir)
        #expect(written.map { ($0 as NSString).lastPathComponent } == ["service-2.json", "waiters-2.json", "paginators-1.json"])
        let waiters = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/opsworks/2013-02-18/waiters-2.json"))) as! [String: Any]
        #expect((waiters["waiters"] as! [String: Any])["DeploymentSuccessful"] != nil)
        // Again over the same files: replaced, not appended.
        try Model.install(into: dir)
        let again = try Data(contentsOf: URL(fileURLWithPath: dir + "/opsworks/2013-02-18/service-2.json"))
        #expect(again == Data(try Model.mergedService()))
        try FileManager.default.removeItem(atPath: NSTemporaryDirectory() + ((dir as NSString).pathComponents.suffix(3).first!))
    }
}
