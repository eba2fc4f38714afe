import CJansson
import Foundation
import OwdCore
@testable import OwdServer
import Testing

/// behaviour.md section 14 through the endpoint: a stored log is the command's LogUrl, a
/// URL on the server that works without AWS credentials for an hour and cannot be forged,
/// altered or extended (403, revealing nothing).
@Suite("Section 14: log URLs")
final class LogURLTests: @unchecked Sendable {
    let store: Store
    let endpoint: Endpoint
    let signer: LogURLSigner
    let command: String
    let secretLog = "deploying shop\nstep 2 of 2\n"

    init() throws {
        let store = try Store(path: nil)
        let endpoint = Endpoint(store: store, verifier: nil)
        let box = ClockBox()
        let signer = LogURLSigner(clock: { box.now })
        signer.baseURL = "http://127.0.0.1:4566"
        endpoint.serveLogs(signer)
        func call(_ op: String, _ req: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(try store.call(op, json: req).utf8)) as! [String: Any]
        }
        let s = try call("CreateStack", #"{"Name":"s","Region":"us-east-1","ServiceRoleArn":"arn:aws:iam::1:role/r","DefaultInstanceProfileArn":"arn:aws:iam::1:instance-profile/p"}"#)["StackId"] as! String
        let i = try call("RegisterInstance", #"{"StackId":"\#(s)","Hostname":"a"}"#)["InstanceId"] as! String
        let d = try call("CreateDeployment", #"{"StackId":"\#(s)","Command":{"Name":"configure"},"InstanceIds":["\#(i)"]}"#)["DeploymentId"] as! String
        let cs = try call("DescribeCommands", #"{"DeploymentId":"\#(d)"}"#)["Commands"] as! [[String: Any]]
        let c = cs[0]["CommandId"] as! String
        _ = try call("CompleteCommand", #"{"CommandId":"\#(c)","Status":"successful","ExitCode":0,"Log":"deploying shop\nstep 2 of 2\n"}"#)
        self.store = store
        self.endpoint = endpoint
        self.signer = signer
        self.clock = box
        self.command = c
        self.instance = i
    }

    let clock: ClockBox
    let instance: String

    final class ClockBox: @unchecked Sendable { var now: Int64 = 1_440_938_160 }

    /// DescribeCommands through the endpoint: the command's LogUrl.
    func logURL() throws -> String {
        let body = Array(#"{"CommandIds":["\#(command)"]}"#.utf8)
        var r = body.withUnsafeBytes { b in
            endpoint.handle(HTTPRequest(method: "POST", path: "/", headers: [("X-Amz-Target", "OpsWorks_20130218.DescribeCommands"),
                                                                           ("Content-Type", "application/x-amz-json-1.1")], body: b))
        }
        defer { r.release() }
        let json = try JSONSerialization.jsonObject(with: Data(r.text.utf8)) as! [String: Any]
        return (json["Commands"] as! [[String: Any]])[0]["LogUrl"] as! String
    }

    /// GETs a URL of the endpoint, with no credentials.
    func get(_ url: String, method: String = "GET") -> (UInt32, String) {
        var rest = Substring(url.dropFirst("http://127.0.0.1:4566".count))
        var query: [(String, String)] = []
        if let q = rest.firstIndex(of: "?") {
            for item in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1)
                query.append((String(kv[0]), kv.count > 1 ? String(kv[1]) : ""))
            }
            rest = rest[..<q]
        }
        var r = endpoint.handle(HTTPRequest(method: method, path: String(rest), query: query, headers: [],
                                            body: UnsafeRawBufferPointer(start: nil, count: 0)))
        defer { r.release() }
        return (r.status, r.text)
    }

    @Test("A stored log is the command's LogUrl; its page holds the log, fetched without credentials")
    func genuine() throws {
        let url = try logURL()
        #expect(url.hasPrefix("http://127.0.0.1:4566/logs/\(command)?Expires=\(clock.now + 3600)&Signature="))
        let (status, text) = get(url)
        #expect(status == 200)
        #expect(text == secretLog)
        #expect(get(url, method: "POST").0 == 405)
    }

    @Test("A forged, altered or extended log URL is 403 and reveals nothing")
    func tampered() throws {
        let url = try logURL()
        let sig = url.range(of: "Signature=")!.upperBound
        let last = url[url.index(before: url.endIndex)]
        let flipped = String(url.dropLast()) + (last == "0" ? "1" : "0")
        let expires = String(clock.now + 3600)
        let variants = [
            flipped,                                                             // the signature altered
            String(url[..<sig]) + String(repeating: "0", count: 64),             // forged
            String(url[..<sig]),                                                 // no signature
            url.replacingOccurrences(of: "Expires=\(expires)", with: "Expires=\(clock.now + 7200)"),   // extended
            url.replacingOccurrences(of: command, with: UUID().uuidString.lowercased()),              // another command
            url + "&Expires=\(expires)",                                         // a member twice
            url + "&x=1",                                                        // a member unknown
            url.replacingOccurrences(of: "/logs/", with: "/logs//"),
            "http://127.0.0.1:4566/logs/",
            LogURLSigner(clock: { 1_440_938_160 }).url(command).replacingOccurrences(of: "/logs/", with: "http://127.0.0.1:4566/logs/"),
        ]
        for v in variants {
            let (status, text) = get(v)
            #expect(status == 403, "\(v)")
            #expect(text == "Forbidden\n", "\(v)")
        }
    }

    @Test("A log URL past its hour is 403")
    func expired() throws {
        let url = try logURL()
        clock.now += 3599
        #expect(get(url).0 == 200)
        clock.now += 1
        let (status, text) = get(url)
        #expect(status == 403 && text == "Forbidden\n")
    }

    @Test("A waiting PollCommands past the endpoint's waiting slots answers at once")
    func pollSlots() throws {
        endpoint.waitingPollLimit = 0
        let body = Array(#"{"InstanceId":"\#(instance)","WaitTimeSeconds":20}"#.utf8)
        let start = Date()
        var r = body.withUnsafeBytes { b in
            endpoint.handle(HTTPRequest(method: "POST", path: "/", headers: [("X-Amz-Target", "OpsWorks_20130218.PollCommands"),
                                                                           ("Content-Type", "application/x-amz-json-1.1")], body: b))
        }
        defer { r.release() }
        #expect(r.status == 200)
        #expect(r.text == #"{"Commands":[]}"#)
        #expect(Date().timeIntervalSince(start) < 10)
    }
}
