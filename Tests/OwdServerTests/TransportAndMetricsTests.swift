import COwdHTTP
import Foundation
import OwdCore
@testable import OwdServer
import Testing

/// Issue 20 above the HTTP library: which polls may carry secrets, what is a loopback peer,
/// the /metrics text, and the TLS files' checks.
@Suite("Issue 20: transport, metrics, TLS files")
struct TransportAndMetricsTests {
    @Test("secretsWithheld: secrets only over TLS or from a loopback peer")
    func decision() {
        #expect(Endpoint.secretsWithheld(tls: true, peerLoopback: true, peer: "127.0.0.1") == nil)
        #expect(Endpoint.secretsWithheld(tls: true, peerLoopback: false, peer: "10.1.2.3") == nil)
        #expect(Endpoint.secretsWithheld(tls: false, peerLoopback: true, peer: "::1") == nil)
        let reason = Endpoint.secretsWithheld(tls: false, peerLoopback: false, peer: "10.1.2.3")
        #expect(reason?.contains("plain HTTP from 10.1.2.3") == true && reason?.contains("--tls-cert") == true)
        #expect(Endpoint.secretsWithheld(tls: false, peerLoopback: false, peer: "")?.contains("an unknown address") == true)
    }

    static func loopback(_ text: String) -> Bool {
        if text.contains(":") {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            #expect(inet_pton(AF_INET6, text, &a.sin6_addr) == 1)
            return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { owdh_is_loopback($0) == 1 } }
        }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        #expect(inet_pton(AF_INET, text, &a.sin_addr) == 1)
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { owdh_is_loopback($0) == 1 } }
    }

    @Test("owdh_is_loopback: 127.0.0.0/8, ::1 and IPv4-mapped 127/8; nothing else")
    func loopbackAddresses() {
        for yes in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] { #expect(Self.loopback(yes), "\(yes)") }
        for no in ["10.0.0.1", "192.0.2.2", "0.0.0.0", "128.0.0.1", "::", "::2", "fe80::1", "::ffff:10.0.0.1", "::127.0.0.1"] {
            #expect(!Self.loopback(no), "\(no)")
        }
        #expect(owdh_is_loopback(nil) == 0)
    }

    @Test("Through the endpoint: a plain-HTTP PollCommands from another machine withholds, from loopback or over TLS it does not")
    func endpointWithholds() throws {
        let store = try Store(path: nil)
        let endpoint = Endpoint(store: store, verifier: nil)
        let s = try store.call("CreateStack", json: #"{"Name":"s","Region":"us-east-1","ServiceRoleArn":"arn:aws:iam::1:role/r","DefaultInstanceProfileArn":"arn:aws:iam::1:instance-profile/p"}"#)
        let stack = String(s.split(separator: "\"")[3])
        let box = String(try store.call("RegisterInstance", json: "{\"StackId\":\"\(stack)\",\"Hostname\":\"b\"}").split(separator: "\"")[3])
        let app = String(try store.call("CreateApp", json: "{\"StackId\":\"\(stack)\",\"Name\":\"a\",\"Type\":\"other\",\"AppSource\":{\"Type\":\"git\",\"Url\":\"u\",\"Password\":\"PW-77\"}}").split(separator: "\"")[3])
        _ = try store.call("CreateDeployment", json: "{\"StackId\":\"\(stack)\",\"AppId\":\"\(app)\",\"Command\":{\"Name\":\"deploy\"},\"InstanceIds\":[\"\(box)\"]}")
        func poll(tls: Bool, loopback: Bool) -> HTTPResponse {
            let body = Array("{\"InstanceId\":\"\(box)\"}".utf8)
            return body.withUnsafeBytes { b in
                endpoint.handle(HTTPRequest(method: "POST", path: "/", headers: [("X-Amz-Target", "OpsWorks_20130218.PollCommands")],
                                            body: b, tls: tls, peerLoopback: loopback, peer: loopback ? "127.0.0.1" : "10.9.8.7"))
            }
        }
        var far = poll(tls: false, loopback: false)
        defer { far.release() }
        #expect(far.status == 200 && !far.text.contains("PW-77") && far.text.contains("*****FILTERED*****"))
        #expect(far.text.contains("\"SecretsWithheld\":") && far.note == "secrets withheld: plain HTTP from 10.9.8.7")
        for (tls, loopback) in [(false, true), (true, false), (true, true)] {
            var near = poll(tls: tls, loopback: loopback)
            #expect(near.text.contains("PW-77") && !near.text.contains("SecretsWithheld") && near.note == nil)
            near.release()
        }
    }

    @Test("ServerMetrics: exact text; unknown operations and statuses fold into fixed labels")
    func metricsText() {
        let m = ServerMetrics()
        m.record(operation: "DescribeStacks", status: 200, nanoseconds: 400_000)      // <= 0.0005
        m.record(operation: "DescribeStacks", status: 200, nanoseconds: 500_000)      // <= 0.0005 (bounds are inclusive)
        m.record(operation: "DescribeStacks", status: 400, nanoseconds: 30_000_000_000) // past 25 s
        m.record(operation: "x\"}evil", status: 404, nanoseconds: 1_000)
        m.record(operation: "/health", status: 299, nanoseconds: 1_000)
        m.recordWithheld()
        let text = m.text(store: StoreMetrics(deployments: [("running", 1), ("successful", 2), ("failed", 0)], commandsPending: 3,
                                              agentsSeen: 4, agentsConnectionLost: 1, sizeBytes: 8192, lastCommitSeconds: 0.25))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains(#"owd_http_requests_total{operation="DescribeStacks",status="200"} 2"#))
        #expect(lines.contains(#"owd_http_requests_total{operation="DescribeStacks",status="400"} 1"#))
        #expect(lines.contains(#"owd_http_requests_total{operation="-",status="404"} 1"#))
        #expect(lines.contains(#"owd_http_requests_total{operation="/health",status="other"} 1"#))
        #expect(!text.contains("evil"))
        #expect(lines.contains(#"owd_http_request_duration_seconds_bucket{operation="DescribeStacks",le="0.0005"} 2"#))
        #expect(lines.contains(#"owd_http_request_duration_seconds_bucket{operation="DescribeStacks",le="25.0"} 2"#))
        #expect(lines.contains(#"owd_http_request_duration_seconds_bucket{operation="DescribeStacks",le="+Inf"} 3"#))
        #expect(lines.contains(#"owd_http_request_duration_seconds_sum{operation="DescribeStacks"} 30.0009"#))
        #expect(lines.contains(#"owd_http_request_duration_seconds_count{operation="DescribeStacks"} 3"#))
        #expect(lines.contains("owd_poll_secrets_withheld_total 1"))
        #expect(lines.contains(#"owd_deployments{status="successful"} 2"#))
        #expect(lines.contains("owd_commands_pending 3") && lines.contains("owd_agents_seen 4"))
        #expect(lines.contains("owd_agents_connection_lost 1") && lines.contains("owd_store_size_bytes 8192"))
        #expect(lines.contains("owd_store_last_commit_duration_seconds 0.25"))
        #expect(!text.contains("CreateStack"), "operations without requests have no series")
        // Every family is announced once, before its samples.
        #expect(lines.filter { $0.hasPrefix("# TYPE owd_http_requests_total counter") }.count == 1)
        #expect(m.text(store: nil).contains("owd_deployments") == false)
        #expect(!text.contains("owd_polls_waiting"), "no waiter, no gauge")
        let waiting = m.text(store: nil, waitingPolls: 3).split(separator: "\n").map(String.init)
        #expect(waiting.contains("# TYPE owd_polls_waiting gauge") && waiting.contains("owd_polls_waiting 3"))
    }

    @Test("TLSIdentity: what is wrong with a certificate or key is named, and no key text is quoted")
    func tlsFiles() throws {
        func refused(_ cert: String, _ key: String) -> String {
            do {
                _ = try TLSIdentity.make(certificate: Array(cert.utf8), key: Array(key.utf8), certPath: "c.pem", keyPath: "k.pem")
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(refused("nothing", "nothing").contains("holds no PEM certificate"))
        #expect(refused("a\0b", "x").contains("NUL"))
        #expect(refused("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "x").contains("no PEM certificate"))
    }
}
