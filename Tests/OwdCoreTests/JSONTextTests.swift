import CJansson
import Foundation
@testable import OwdCore
import Testing

/// owd_call_json answers DescribeDeployments as text written straight from the records:
/// it must be byte for byte what jansson writes for the json_t answer.
@Suite("JSON text answers")
struct JSONTextTests {
    func both(_ f: Fixture, _ op: String, _ request: [String: Any]) throws -> (String, String) {
        let data = try JSONSerialization.data(withJSONObject: request)
        let j = try JSON.loads(String(decoding: data, as: UTF8.self))
        defer { cjansson_decref(j) }
        let viaJansson = try f.store.call(op, UnsafePointer(j))
        defer { cjansson_decref(viaJansson) }
        let text = try f.store.callText(op, UnsafePointer(j))
        defer { free(text) }
        return (String(cString: text), try JSON.dumps(viaJansson))
    }

    @Test("DescribeDeployments as text equals jansson's compact dump, escapes included")
    func describeTextMatchesJansson() throws {
        let f = try Fixture()
        let stack = try f.stack()
        let layer = try f.layer(stack)
        _ = try f.instance(stack, layers: [layer])
        _ = try f.instance(stack, layers: [layer])
        let app = try f.app(stack)
        let tricky = "quote \" backslash \\ slash / newline \n tab \t bell \u{07} nul-free é 🚀 \u{1F} end"
        _ = try f.deploy(stack, app: app, args: ["migrate": ["true"], "k \"x\"": ["a\nb", "", "ü"]],
                         extra: ["Comment": tricky, "CustomJson": "{\"a\": \"\\u0001\", \"b\": [1, 2]}"])
        f.clock.advance(1)
        let finished = try f.deploy(stack, command: "execute_recipes", args: ["recipes": ["a::b", "c"]])
        f.clock.advance(9)
        try f.finish(finished, "failed")
        _ = try f.deploy(stack, command: "configure")
        for request: [String: Any] in [["StackId": stack], ["AppId": app], [:], ["DeploymentIds": []],
                                       ["DeploymentIds": [finished, finished]]] {
            let (text, dumped) = try both(f, "DescribeDeployments", request)
            #expect(text == dumped)
        }
    }

    @Test("Every other operation's text answer is jansson's compact dump")
    func otherOperationsText() throws {
        let f = try Fixture()
        let stack = try f.stack()
        let (text, dumped) = try both(f, "DescribeStacks", ["StackIds": [stack]])
        #expect(text == dumped)
        #expect(text.contains(stack))
    }

    @Test("The error body is AWS JSON 1.1: __type and message, escaped")
    func errorBody() throws {
        let p = Store.errorText(type: "ValidationException", message: "bad \"x\"\n")!
        defer { free(p) }
        #expect(String(cString: p) == #"{"__type":"ValidationException","message":"bad \"x\"\n"}"#)
    }
}

/// The one JSON-text entry (`Store.callJSON`): its rule for text, the same for every caller.
@Suite("The JSON-text entry")
struct JSONEntryTests {
    func call(_ f: Fixture, _ text: String) -> Result<String, OwdError> {
        do { return .success(try f.store.call("DescribeStacks", json: text)) } catch let e as OwdError {
            return .failure(e)
        } catch { return .failure(.internal("\(error)")) }
    }

    @Test("Empty text is {}; text that is not JSON is InvalidArgument; JSON that is not an object names its type")
    func theRule() throws {
        let f = try Fixture()
        #expect(try f.store.call("DescribeStacks", json: "") == #"{"Stacks":[]}"#)
        let absent = try f.store.callJSON("DescribeStacks", nil)
        defer { free(absent) }
        #expect(String(cString: absent) == #"{"Stacks":[]}"#)
        for (text, type) in [("[]", "list"), ("\"x\"", "string"), ("1", "integer"), ("1.5", "number"),
                             ("true", "boolean"), ("null", "null")] {
            #expect(call(f, text) == .failure(.validation("The request must be a JSON object, not \(type)")), "\(text)")
        }
        for text in [" ", "{", "{}x", "{\"a\":1,\"a\":2}", "{\"a\":\"\\u0000\"}", "nul\u{0}"] {
            guard case .failure(.invalidArgument(let m)) = call(f, text) else {
                Issue.record("\(text.debugDescription) was not refused as text that is not JSON")
                continue
            }
            #expect(m.hasPrefix("request is not valid JSON: "), "\(m)")
        }
        // Past the limit: refused before parsing, whatever the text holds.
        let big = String(repeating: " ", count: Limits.requestText + 1)
        #expect(call(f, big) == .failure(.validation("request text is longer than \(Limits.requestText) bytes")))
    }

    @Test("Unknown operations are refused whatever the text")
    func unknownOperation() throws {
        let f = try Fixture()
        #expect(throws: OwdError.unknownOperation("Unknown operation Nope")) { try f.store.call("Nope", json: "{}") }
    }
}
