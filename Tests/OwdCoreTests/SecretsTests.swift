import CJansson
import Foundation
@testable import OwdCore
import Testing

/// Section 10: no answer holds a secret it was given; the store keeps every one intact.
@Suite("Secrets in answers (section 10)")
struct SecretsTests {
    static let secrets = ["app-password-0xA1", "-----BEGIN RSA PRIVATE KEY-----app-ssh-0xA2",
                          "-----BEGIN PRIVATE KEY-----ssl-0xA3", "secure-env-0xA4", "mysql-root-0xA5",
                          "haproxy-stats-0xA6", "ganglia-0xA7", "cookbooks-password-0xA8",
                          "cookbooks-ssh-0xA9", "updated-app-password-0xB1", "clone-secure-env-0xB2"]
    static let alice = "arn:aws:iam::123456789012:user/alice"

    struct World {
        let f: Fixture, path: String
        let stack: String, layer: String, app: String, instance: String, deployment: String
    }

    /// A file store whose stack, layer and app hold every secret the contract names, plus a
    /// deployment, a user with `show`, a clone and an update (secrets reach both).
    static func world() throws -> World {
        let path = sharedStorePath()
        let f = try Fixture(path: path)
        let stack = try f.call("CreateStack", [
            "Name": "secret", "Region": "us-east-1",
            "ServiceRoleArn": "arn:aws:iam::123456789012:role/aws-opsworks-service-role",
            "DefaultInstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role",
            "UseCustomCookbooks": true,
            "CustomCookbooksSource": ["Type": "git", "Url": "git@example.com:c.git", "Username": "chef",
                                      "Password": secrets[7], "SshKey": secrets[8]],
        ])["StackId"] as! String
        let layer = try f.call("CreateLayer", [
            "StackId": stack, "Type": "db-master", "Name": "MySQL", "Shortname": "db-master",
            "Attributes": ["MysqlRootPassword": secrets[4], "MysqlRootPasswordUbiquitous": "true",
                           "HaproxyStatsPassword": secrets[5], "GangliaPassword": secrets[6]],
        ])["LayerId"] as! String
        let app = try f.call("CreateApp", [
            "StackId": stack, "Name": "SimpleJSP", "Type": "java",
            "AppSource": ["Type": "git", "Url": "git@example.com:app.git", "Username": "deploy",
                          "Password": secrets[0], "SshKey": secrets[1]],
            "EnableSsl": true,
            "SslConfiguration": ["Certificate": "-----BEGIN CERTIFICATE-----public", "PrivateKey": secrets[2]],
            "Environment": [["Key": "DB_PASSWORD", "Value": secrets[3], "Secure": true],
                            ["Key": "REGION", "Value": "eu-west-1", "Secure": false],
                            ["Key": "COLOR", "Value": "blue"]],
        ])["AppId"] as! String
        let instance = try f.instance(stack, layers: [layer])
        let deployment = try f.deploy(stack, app: app)
        let other = try f.app(stack, "other")
        try f.call("UpdateApp", ["AppId": other, "AppSource": ["Type": "git", "Url": "u", "Password": secrets[9]],
                                 "Environment": [["Key": "K", "Value": secrets[10], "Secure": true]]])
        _ = try f.call("CloneStack", ["SourceStackId": stack, "ServiceRoleArn": "arn:aws:iam::123456789012:role/r",
                                      "CloneAppIds": [app, other], "Name": "secret clone"])
        try f.call("CreateUserProfile", ["IamUserArn": alice])
        try f.call("SetPermission", ["StackId": stack, "IamUserArn": alice, "Level": "show"])
        return World(f: f, path: path, stack: stack, layer: layer, app: app, instance: instance, deployment: deployment)
    }

    /// Every read operation of the table, with no parameter and with each member it takes
    /// filled from the world (IDs, lists of IDs, the stack's Arn).
    static func readRequests(_ w: World) throws -> [(String, [String: Any])] {
        let arn = (try w.f.call("DescribeStacks", ["StackIds": [w.stack]])["Stacks"] as! [[String: Any]])[0]["Arn"] as! String
        let layerArn = (try w.f.call("DescribeLayers", ["LayerIds": [w.layer]])["Layers"] as! [[String: Any]])[0]["Arn"] as! String
        let values: [String: Any] = [
            "StackId": w.stack, "StackIds": [w.stack], "LayerId": w.layer, "LayerIds": [w.layer], "AppId": w.app,
            "AppIds": [w.app], "InstanceId": w.instance, "InstanceIds": [w.instance], "DeploymentId": w.deployment,
            "DeploymentIds": [w.deployment], "IamUserArn": alice, "IamUserArns": [alice],
        ]
        var out: [(String, [String: Any])] = []
        for op in Operation.allCases where !op.writes {
            out.append((op.rawValue, [:]))
            for m in op.requestShape.members {
                if let v = values[m.name] { out.append((op.rawValue, [m.name: v])) }
                if m.name == "ResourceArn" {
                    out.append((op.rawValue, [m.name: arn]))
                    out.append((op.rawValue, [m.name: layerArn]))
                }
            }
        }
        return out
    }

    /// Every answer (or error message) of every read, as text.
    static func answers(_ f: Fixture, _ w: World, through json: Bool) throws -> [String] {
        var out: [String] = []
        for (op, request) in try readRequests(w) {
            do {
                if json {
                    out.append(try f.text(op, request))
                } else {
                    // owd_call's path: a parsed request, a json_t answer.
                    let data = try JSONSerialization.data(withJSONObject: request)
                    let parsed = try JSON.loads(String(decoding: data, as: UTF8.self))
                    defer { cjansson_decref(parsed) }
                    let answer = try f.store.call(op, UnsafePointer(parsed))
                    defer { cjansson_decref(answer) }
                    out.append(try JSON.dumps(answer))
                }
            } catch let e as OwdError {
                out.append(e.message)
            }
        }
        return out
    }

    @Test("Every Describe answer of a store full of secrets holds none of them, through call(json:) and owd_call's path, for the owner and a caller with show")
    func noAnswerHoldsASecret() throws {
        let w = try Self.world()
        var walked = 0
        for reader in [w.f, w.f.as(Self.alice)] {
            for json in [true, false] {
                let texts = try Self.answers(reader, w, through: json)
                walked += texts.count
                for text in texts {
                    for s in Self.secrets { #expect(!text.contains(s), "an answer holds \(s): \(text)") }
                }
                // Not vacuous: the answers show the filtered members.
                #expect(texts.contains { $0.contains("*****FILTERED*****") })
            }
        }
        #expect(walked > 4 * Operation.allCases.filter { !$0.writes }.count)
    }

    @Test("Secrets are shown as *****FILTERED***** exactly where they were given; other values are shown as given")
    func filteredInPlace() throws {
        let w = try Self.world()
        let f = "*****FILTERED*****"
        let stack = (try w.f.call("DescribeStacks", ["StackIds": [w.stack]])["Stacks"] as! [[String: Any]])[0]
        let source = stack["CustomCookbooksSource"] as! [String: Any]
        #expect(source["Password"] as? String == f && source["SshKey"] as? String == f)
        #expect(source["Username"] as? String == "chef" && source["Url"] as? String == "git@example.com:c.git")
        let layer = (try w.f.call("DescribeLayers", ["LayerIds": [w.layer]])["Layers"] as! [[String: Any]])[0]
        let attributes = layer["Attributes"] as! [String: String]
        #expect(attributes == ["MysqlRootPassword": f, "MysqlRootPasswordUbiquitous": "true",
                               "HaproxyStatsPassword": f, "GangliaPassword": f])
        let app = (try w.f.call("DescribeApps", ["AppIds": [w.app]])["Apps"] as! [[String: Any]])[0]
        let appSource = app["AppSource"] as! [String: Any]
        #expect(appSource["Password"] as? String == f && appSource["SshKey"] as? String == f)
        #expect(appSource["Username"] as? String == "deploy")
        let ssl = app["SslConfiguration"] as! [String: Any]
        #expect(ssl["PrivateKey"] as? String == f && ssl["Certificate"] as? String == "-----BEGIN CERTIFICATE-----public")
        let environment = app["Environment"] as! [[String: Any]]
        #expect(environment.map { $0["Value"] as? String } == [f, "eu-west-1", "blue"])
        // A secret never given stays absent (not a filtered placeholder).
        let plain = try w.f.app(w.stack, "plain")
        let p = (try w.f.call("DescribeApps", ["AppIds": [plain]])["Apps"] as! [[String: Any]])[0]
        #expect(p["AppSource"] == nil && p["SslConfiguration"] == nil)
        try w.f.call("UpdateApp", ["AppId": plain, "AppSource": ["Type": "git", "Url": "u"]])
        let q = (try w.f.call("DescribeApps", ["AppIds": [plain]])["Apps"] as! [[String: Any]])[0]
        #expect((q["AppSource"] as? [String: Any])?.keys.sorted() == ["Type", "Url"])
    }

    @Test("The store keeps every secret exactly as given (the agent protocol needs them)")
    func storedIntact() throws {
        let w = try Self.world()
        let c = try storeConnection(w.path)
        defer { c.close() }
        var stored = ""
        try c.transaction(immediate: false) {
            for table in ["stacks", "layers", "apps", "app_versions"] {
                let s = try c.prepare("SELECT body FROM \(table)")
                while try s.step() { stored += (s.string(0) ?? "") + "\n" }
                s.reset()
            }
        }
        for s in Self.secrets { #expect(stored.contains(s), "the store lost \(s)") }
        #expect(!stored.contains("*****FILTERED*****"))
    }
}
