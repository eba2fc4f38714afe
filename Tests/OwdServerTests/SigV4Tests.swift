import Foundation
@testable import OwdServer
import Testing

/// AWS's Signature Version 4 test suite (the vectors botocore's own tests carry, kept in
/// Fixtures/aws4_testsuite): each signed request (.sreq) verifies with AWS's example key at
/// AWS's example time, and the canonical request and string to sign are AWS's (.creq, .sts).
@Suite("SigV4: AWS's test-suite vectors")
struct SigV4VectorTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/aws4_testsuite")
    static let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
        .filter { !$0.hasPrefix("LICENSE") && !$0.hasPrefix("NOTICE") }.sorted()
    static let example = Credential(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", iamUserArn: nil)
    static let signedAt = SigV4Verifier.parseAmzDate("20150830T123600Z")!

    static func verifier(at t: Int64 = signedAt, region: String = "us-east-1") -> SigV4Verifier {
        SigV4Verifier(region: region, service: "service", credentials: [example], clock: { t })
    }

    static func file(_ name: String, _ ext: String) throws -> String {
        try String(contentsOf: folder.appendingPathComponent("\(name)/\(name).\(ext)"), encoding: .utf8)
    }

    @Test("the fixtures are there")
    func fixturesPresent() {
        #expect(SigV4VectorTests.names.count >= 15)
    }

    @Test("each vector's signed request verifies; its canonical request and string to sign are AWS's", arguments: names)
    func vector(_ name: String) throws {
        let parsed = try Vector.parse(try SigV4VectorTests.file(name, "sreq"))
        let signed = parsed.request
        try parsed.body.withUnsafeBytes { body in
            var r = signed
            r.body = body
            let auth = try Authorization.parse(r.header("authorization")!).get()
            let creq = SigV4Verifier.canonicalRequest(r, signedHeaders: auth.signedHeaders)
            #expect(creq == (try SigV4VectorTests.file(name, "creq")))
            #expect(SigV4Verifier.stringToSign(amzDate: "20150830T123600Z", scope: auth.scope, canonicalRequest: creq)
                    == (try SigV4VectorTests.file(name, "sts")))
            #expect(SigV4VectorTests.verifier().verify(r) == .success(SigV4VectorTests.example))
        }
    }

    @Test("a changed body, header, path or signature is InvalidSignatureException", arguments: ["post-vanilla", "get-header-value-trim"])
    func tampered(_ name: String) throws {
        let parsed = try Vector.parse(try SigV4VectorTests.file(name, "sreq"))
        let v = SigV4VectorTests.verifier()
        let body = Array("x".utf8)
        body.withUnsafeBytes { b in
            var r = parsed.request
            r.body = b
            #expect(v.verify(r).failureType == "InvalidSignatureException")
        }
        var r = parsed.request
        r.headers = r.headers.map { $0.0.lowercased() == "host" ? ($0.0, "other.example.com") : $0 }
        #expect(v.verify(r).failureType == "InvalidSignatureException")
        r = parsed.request
        r.path = "/other"
        #expect(v.verify(r).failureType == "InvalidSignatureException")
        r = parsed.request
        r.headers = r.headers.map { n, value in
            guard n == "Authorization" else { return (n, value) }
            let last = value.last == "0" ? "1" : "0"
            return (n, String(value.dropLast()) + last)
        }
        #expect(v.verify(r).failureType == "InvalidSignatureException")
    }

    @Test("the clock: 5 minutes either side verify, one second more is InvalidSignatureException naming the bound")
    func skew() throws {
        let r = try Vector.parse(try SigV4VectorTests.file("get-vanilla", "sreq")).request
        let t = SigV4VectorTests.signedAt
        #expect(SigV4VectorTests.verifier(at: t + 300).verify(r) == .success(SigV4VectorTests.example))
        #expect(SigV4VectorTests.verifier(at: t - 300).verify(r) == .success(SigV4VectorTests.example))
        let late = SigV4VectorTests.verifier(at: t + 301).verify(r)
        #expect(late == .failure(.invalidSignature("Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T124101Z - 5 min.)")))
        let early = SigV4VectorTests.verifier(at: t - 301).verify(r)
        #expect(early.failureType == "InvalidSignatureException")
        #expect("\(early)".contains("not yet current"))
    }

    @Test("a scope for another region or service is InvalidSignatureException")
    func scope() throws {
        let r = try Vector.parse(try SigV4VectorTests.file("get-vanilla", "sreq")).request
        #expect(SigV4VectorTests.verifier(region: "eu-west-1").verify(r)
                == .failure(.invalidSignature("Credential should be scoped to a valid region, not 'us-east-1'. ")))
        let opsworks = SigV4Verifier(region: "us-east-1", credentials: [SigV4VectorTests.example], clock: { SigV4VectorTests.signedAt })
        #expect(opsworks.verify(r) == .failure(.invalidSignature("Credential should be scoped to correct service: 'opsworks'. ")))
    }

    @Test("no Authorization is 403 MissingAuthenticationToken; an unknown key UnrecognizedClient; a malformed one IncompleteSignature")
    func refusals() throws {
        var r = try Vector.parse(try SigV4VectorTests.file("get-vanilla", "sreq")).request
        let v = SigV4VectorTests.verifier()
        let original = r.headers
        r.headers = original.filter { $0.0 != "Authorization" }
        #expect(v.verify(r) == .failure(.missing))
        #expect(AuthFailure.missing.status == 403)
        func with(_ authorization: String) -> Result<Credential, AuthFailure> {
            r.headers = original.map { $0.0 == "Authorization" ? ($0.0, authorization) : $0 }
            return v.verify(r)
        }
        let good = original.first { $0.0 == "Authorization" }!.1
        #expect(with(good.replacingOccurrences(of: "AKIDEXAMPLE", with: "AKIDUNKNOWN")) == .failure(.unrecognizedClient))
        #expect(with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date").failureType == "IncompleteSignatureException")
        #expect(with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1, SignedHeaders=host;x-amz-date, Signature=00").failureType == "IncompleteSignatureException")
        #expect(with("Bearer abc").failureType == "IncompleteSignatureException")
        #expect(with("AWS4-HMAC-SHA256 garbage").failureType == "IncompleteSignatureException")
        #expect(with("").failureType == "IncompleteSignatureException")
        // A signature of another length is a mismatch, not a crash or an incomplete header.
        #expect(with(String(good.dropLast(10))).failureType == "InvalidSignatureException")
        // No X-Amz-Date.
        r.headers = original.filter { $0.0 != "X-Amz-Date" }
        #expect(v.verify(r).failureType == "IncompleteSignatureException")
    }

    @Test("no refusal's message holds the expected signature or the secret")
    func noLeak() throws {
        let r = try Vector.parse(try SigV4VectorTests.file("post-vanilla", "sreq")).request
        var bad = r
        bad.path = "/x"
        let v = SigV4VectorTests.verifier()
        guard case .failure(let f) = v.verify(bad) else { Issue.record("verified"); return }
        let creq = SigV4Verifier.canonicalRequest(bad, signedHeaders: ["host", "x-amz-date"])
        let sts = SigV4Verifier.stringToSign(amzDate: "20150830T123600Z", scope: "20150830/us-east-1/service/aws4_request", canonicalRequest: creq)
        let key = SigV4Verifier.signingKey(secret: SigV4VectorTests.example.secretAccessKey, day: "20150830", region: "us-east-1", service: "service")
        let expected: String = Hex.encode(hmac(key, Array(sts.utf8)))
        #expect(!f.message.contains(expected))
        #expect(!f.message.contains(String(expected.prefix(8))))
        #expect(!f.message.contains(SigV4VectorTests.example.secretAccessKey))
    }

    @Test("X-Amz-Date parses and prints back")
    func dates() {
        #expect(SigV4Verifier.parseAmzDate("19700101T000000Z") == 0)
        #expect(SigV4Verifier.amzDate(1_440_938_160) == "20150830T123600Z")
        #expect(SigV4Verifier.parseAmzDate("20150830T123600Z") == 1_440_938_160)
        for bad in ["", "20150830T123600", "2015-08-30T12:36:00Z", "20151330T123600Z", "20150830T253600Z", "2015083OT123600Z"] {
            #expect(SigV4Verifier.parseAmzDate(bad) == nil)
        }
    }
}

extension Result where Failure == AuthFailure {
    var failureType: String? {
        if case .failure(let f) = self { return f.type }
        return nil
    }
}

/// A .sreq file: request line, header lines, a blank line, the body.
struct Vector {
    var request: SignedRequest
    var body: [UInt8]

    static func parse(_ text: String) throws -> Vector {
        let parts = text.components(separatedBy: "\n\n")
        let head = parts[0].components(separatedBy: "\n")
        let body = Array(parts.dropFirst().joined(separator: "\n\n").utf8)
        let line = head[0].split(separator: " ")
        let target = line[1...].dropLast().joined(separator: " ")
        let pathAndQuery = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [(String, String)] = []
        if pathAndQuery.count > 1 {
            for pair in pathAndQuery[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let k = String(kv[0]).removingPercentEncoding ?? String(kv[0])
                let v = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
                query.append((k, v))
            }
        }
        var headers: [(String, String)] = []
        for h in head.dropFirst() {
            guard let colon = h.firstIndex(of: ":") else { continue }
            headers.append((String(h[..<colon]), String(h[h.index(after: colon)...])))
        }
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        return Vector(request: SignedRequest(method: String(line[0]), path: String(pathAndQuery[0]), query: query, headers: headers, body: empty), body: body)
    }
}

/// The client's signer (owd agent) computes with the verifier's own canonical forms: each
/// of AWS's vectors, signed from its unsigned headers at AWS's time, gets AWS's
/// Authorization, and what it signs the verifier accepts.
@Suite("SigV4: the signer")
struct SigV4SignerTests {
    static let signer = SigV4Signer(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                    region: "us-east-1", service: "service")

    @Test("each vector signed from scratch has AWS's Authorization", arguments: SigV4VectorTests.names)
    func vector(_ name: String) throws {
        let parsed = try Vector.parse(try SigV4VectorTests.file(name, "sreq"))
        let expected = parsed.request.header("authorization")!.drop { $0 == " " }
        let unsigned = parsed.request.headers.filter { !["authorization", "x-amz-date"].contains($0.0.lowercased()) }
        let signed = parsed.body.withUnsafeBytes { body in
            SigV4SignerTests.signer.sign(method: parsed.request.method, path: parsed.request.path, query: parsed.request.query,
                                         headers: unsigned, body: body, time: SigV4VectorTests.signedAt)
        }
        #expect(signed.last?.0 == "Authorization")
        #expect(signed.last?.1 == String(expected))
        #expect(signed.contains { $0 == ("X-Amz-Date", "20150830T123600Z") })
    }

    @Test("a signed JSON 1.1 request, with a session token, verifies; a changed body or another secret does not")
    func roundTrip() {
        let now: Int64 = 1_790_000_000
        let credential = Credential(accessKeyID: "AKIAAGENT", secretAccessKey: "agent/SECRET", iamUserArn: nil)
        let verifier = SigV4Verifier(region: "eu-west-1", credentials: [credential], clock: { now })
        let signer = SigV4Signer(accessKeyID: "AKIAAGENT", secretAccessKey: "agent/SECRET", sessionToken: "token+/=",
                                 region: "eu-west-1")
        let body = Array(#"{"InstanceId":"i-1","WaitTimeSeconds":20}"#.utf8)
        let base = [("Host", "127.0.0.1:4566"), ("Content-Type", "application/x-amz-json-1.1"),
                    ("X-Amz-Target", "OpsWorks_20130218.PollCommands")]
        body.withUnsafeBytes { b in
            let headers = signer.sign(method: "POST", path: "/", headers: base, body: b, time: now)
            #expect(headers.contains { $0 == ("X-Amz-Security-Token", "token+/=") })
            #expect(headers.last!.1.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,"))
            #expect(verifier.verify(SignedRequest(method: "POST", path: "/", headers: headers, body: b)) == .success(credential))
            let other = Array("{}".utf8)
            other.withUnsafeBytes { o in
                #expect(verifier.verify(SignedRequest(method: "POST", path: "/", headers: headers, body: o)).failureType == "InvalidSignatureException")
            }
            let wrong = SigV4Signer(accessKeyID: "AKIAAGENT", secretAccessKey: "agent/OTHER", region: "eu-west-1")
                .sign(method: "POST", path: "/", headers: base, body: b, time: now)
            #expect(verifier.verify(SignedRequest(method: "POST", path: "/", headers: wrong, body: b)).failureType == "InvalidSignatureException")
        }
    }
}
