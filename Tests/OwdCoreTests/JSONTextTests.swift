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
