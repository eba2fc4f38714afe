@testable import OwdAgent
import Testing

@Suite("owd agent: endpoint, credentials")
struct AgentUnitTests {
    @Test("the endpoint's Host is its authority, without the scheme's default port")
    func endpoint() throws {
        #expect(try Endpoint("http://127.0.0.1:4566").host == "127.0.0.1:4566")
        #expect(try Endpoint("http://127.0.0.1:4566").url == "http://127.0.0.1:4566/")
        #expect(try Endpoint("https://owd.example.com:443/").host == "owd.example.com")
        #expect(try Endpoint("http://owd.example.com:80/").host == "owd.example.com")
        #expect(try Endpoint("https://owd.example.com/base").path == "/base")
        #expect(throws: AgentFailure.self) { try Endpoint("ftp://owd.example.com") }
        #expect(throws: AgentFailure.self) { try Endpoint("http://owd.example.com/?a=b") }
        #expect(throws: AgentFailure.self) { try Endpoint("http:///") }
    }

    @Test("environment keys unless AWS_PROFILE is set; the session token with them")
    func environment() throws {
        let c = try AgentCredentials.resolve(["AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"])
        #expect(c.accessKeyID == "AKIA1" && c.secretAccessKey == "s" && c.sessionToken == "t")
        #expect(throws: AgentCredentials.Failure.self) { try AgentCredentials.resolve(["AWS_ACCESS_KEY_ID": "AKIA1"]) }
        #expect(throws: AgentCredentials.Failure.self) { try AgentCredentials.resolve([:]) }
    }

    @Test("the shared credentials file's INI: profiles, comments, spaces, `profile NAME` sections")
    func ini() {
        let text = """
        # comment
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key=secret/default
        ; another
        [profile agent]
          aws_access_key_id = AKIAAGENT\r
          AWS_SECRET_ACCESS_KEY = agent=secret
          aws_session_token = tok
        """
        let s = AgentCredentials.parseINI(text)
        #expect(s["default"]?["aws_access_key_id"] == "AKIADEFAULT")
        #expect(s["default"]?["aws_secret_access_key"] == "secret/default")
        #expect(s["agent"]?["aws_access_key_id"] == "AKIAAGENT")
        #expect(s["agent"]?["aws_secret_access_key"] == "agent=secret")
        #expect(s["agent"]?["aws_session_token"] == "tok")
    }

    @Test("a hook's output keeps its last bytes, says what was cut, and is valid UTF-8 without NUL")
    func outputTail() {
        var t = OutputTail(limit: 8)
        let chunk: [UInt8] = Array("0123456789".utf8) + [0, 0xFF] + Array("end".utf8)
        chunk.withUnsafeBytes { t.append($0) }
        let text = t.text()
        #expect(text.hasPrefix("owd agent: 7 bytes of output cut; the last 8 follow\n"))
        #expect(text.hasSuffix("89?\u{FFFD}end"))
    }
}
