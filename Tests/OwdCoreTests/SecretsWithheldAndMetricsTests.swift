import Foundation
@testable import OwdCore
import Testing

/// Issue 20 in the core: a handle that withholds secrets (what `owd serve` answers a
/// plain-HTTP poll from another machine through), and the store's gauges of /metrics.
@Suite("Secrets withheld from a poll; the store's metrics")
struct SecretsWithheldAndMetricsTests {
    @Test("A withholding handle's PollCommands filters every section-10 app secret and says why; other handles are unchanged")
    func withheld() throws {
        let w = try AgentProtocolTests.world()
        try w.f.call("UpdateApp", ["AppId": w.app, "SslConfiguration": ["Certificate": "cert", "PrivateKey": "ssl-PRIVATE"],
                                   "Environment": [["Key": "T", "Value": "env-SECRET", "Secure": true],
                                                   ["Key": "M", "Value": "shown", "Secure": false]]])
        _ = try w.f.deploy(w.stack, app: w.app, extra: ["InstanceIds": [w.box]])
        let far = Fixture(store: w.f.store.withholdingSecrets("because: test"), clock: w.f.clock)
        let answer = try far.call("PollCommands", ["InstanceId": w.box])
        #expect(answer["SecretsWithheld"] as? String == "because: test")
        let commands = try #require(answer["Commands"] as? [[String: Any]])
        let app = try #require(commands.first?["App"] as? [String: Any])
        let source = try #require(app["AppSource"] as? [String: Any])
        #expect(source["Password"] as? String == "*****FILTERED*****" && source["SshKey"] as? String == "*****FILTERED*****")
        #expect((app["SslConfiguration"] as? [String: Any])?["PrivateKey"] as? String == "*****FILTERED*****")
        let env = (app["Environment"] as? [[String: Any]] ?? []).map { ($0["Key"] as! String, $0["Value"] as! String) }
        #expect(env.map(\.0) == ["T", "M"] && env.map(\.1) == ["*****FILTERED*****", "shown"])
        #expect(source["Url"] as? String == "git@example.com:shop.git", "only secrets are replaced")
        // An empty answer says why too; the ordinary handle hands the secrets out, with no reason.
        #expect(try far.call("PollCommands", ["InstanceId": w.web])["SecretsWithheld"] as? String == "because: test")
        let near = try w.f.call("PollCommands", ["InstanceId": w.box])
        #expect(near["SecretsWithheld"] == nil)
        let nearApp = try #require((near["Commands"] as? [[String: Any]])?.first?["App"] as? [String: Any])
        #expect((nearApp["AppSource"] as? [String: Any])?["Password"] as? String == AgentProtocolTests.password)
        #expect(w.f.store.secretsWithheld == nil && w.f.store.acting(as: nil).secretsWithheld == nil)
    }

    @Test("Store metrics: deployments by status, commands pending, agents seen and lost, size, last commit")
    func metrics() throws {
        let path = temporaryPath()
        let w = try AgentProtocolTests.world(path: path, lostAfter: 10)
        let empty = try w.f.store.metrics()
        #expect(empty.deployments.map(\.1) == [0, 0, 0] && empty.deployments.map(\.0) == ["running", "successful", "failed"])
        #expect(empty.commandsPending == 0 && empty.agentsSeen == 0 && empty.agentsConnectionLost == 0)
        #expect(empty.sizeBytes > 0 && (empty.lastCommitSeconds ?? 0) > 0)
        let d = try w.f.deploy(w.stack, app: w.app, extra: ["InstanceIds": [w.box, w.web]])
        var m = try w.f.store.metrics()
        #expect(m.deployments.map(\.1) == [1, 0, 0] && m.commandsPending == 2)
        let ids = try w.f.commandIDs(d)
        let c1 = ids[0], c2 = ids[1]
        _ = try AgentProtocolTests.poll(w.f, w.box)
        try w.f.complete(c1)
        m = try w.f.store.metrics()
        #expect(m.commandsPending == 1 && m.agentsSeen == 1 && m.agentsConnectionLost == 0)
        try w.f.complete(c2, "failed")
        w.f.clock.advance(10)
        m = try w.f.store.metrics()
        #expect(m.deployments.map(\.1) == [0, 0, 1] && m.commandsPending == 0)
        #expect(m.agentsSeen == 1 && m.agentsConnectionLost == 1)
        // A second process's commit is seen (the cache follows the change sequence).
        let other = try Store(path: path)
        _ = try other.call("CreateDeployment", json: "{\"StackId\":\"\(w.stack)\",\"Command\":{\"Name\":\"update_custom_cookbooks\"}}")
        #expect(try w.f.store.metrics().deployments.map(\.1) == [1, 0, 1])
        try w.f.call("DeleteStack", ["StackId": try w.f.call("CreateStack", ["Name": "x", "Region": "us-east-1",
            "ServiceRoleArn": "arn:aws:iam::123456789012:role/r", "DefaultInstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/p"])["StackId"] as! String])
        #expect(try w.f.store.metrics().deployments.map(\.1) == [1, 0, 1])
    }
}
