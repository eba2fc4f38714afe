import Foundation
@testable import OwdCore
import Testing

/// Section 11 for stacks, layers and apps: AWS's defaults filled at creation (given values
/// win), and the uniqueness rules of a stack, for Create* and Update*.
@Suite("Defaults and uniqueness at creation (section 11)")
struct DefaultsTests {
    static func stackItem(_ f: Fixture, _ id: String) throws -> [String: Any] {
        (try f.call("DescribeStacks", ["StackIds": [id]])["Stacks"] as! [[String: Any]])[0]
    }

    static func layerItem(_ f: Fixture, _ id: String) throws -> [String: Any] {
        (try f.call("DescribeLayers", ["LayerIds": [id]])["Layers"] as! [[String: Any]])[0]
    }

    static func appItem(_ f: Fixture, _ id: String) throws -> [String: Any] {
        (try f.call("DescribeApps", ["AppIds": [id]])["Apps"] as! [[String: Any]])[0]
    }

    @Test("A stack's documented defaults are filled in at creation and shown by DescribeStacks")
    func stackDefaults() throws {
        let f = try Fixture()
        let s = try Self.stackItem(f, try f.stack())
        #expect(canonical(s["ConfigurationManager"]!) == canonical(["Name": "Chef", "Version": "12"]))
        #expect(s["UseCustomCookbooks"] as? Bool == false)
        #expect(s["UseOpsworksSecurityGroups"] as? Bool == true)
        #expect(s["HostnameTheme"] as? String == "Layer_Dependent")
        #expect(s["DefaultOs"] as? String == "Amazon Linux 2")
        #expect(s["DefaultRootDeviceType"] as? String == "instance-store")
        #expect(s["AgentVersion"] as? String == "LATEST")
        // A member never given and without a documented default stays absent.
        for absent in ["VpcId", "DefaultSshKeyName", "DefaultSubnetId", "CustomCookbooksSource", "ChefConfiguration"] {
            #expect(s[absent] == nil, "\(absent)")
        }
    }

    @Test("A stack's given values win over its defaults")
    func stackGivenWins() throws {
        let f = try Fixture()
        let id = try f.call("CreateStack", [
            "Name": "s", "Region": "us-east-1", "ServiceRoleArn": "r", "DefaultInstanceProfileArn": "p",
            "ConfigurationManager": ["Name": "Chef", "Version": "11.10"], "UseCustomCookbooks": true,
            "UseOpsworksSecurityGroups": false, "HostnameTheme": "Greek_Deities", "DefaultOs": "Ubuntu 22.04 LTS",
            "DefaultRootDeviceType": "ebs", "AgentVersion": "4023",
        ])["StackId"] as! String
        let s = try Self.stackItem(f, id)
        #expect(canonical(s["ConfigurationManager"]!) == canonical(["Name": "Chef", "Version": "11.10"]))
        #expect(s["UseCustomCookbooks"] as? Bool == true)
        #expect(s["UseOpsworksSecurityGroups"] as? Bool == false)
        #expect(s["HostnameTheme"] as? String == "Greek_Deities")
        #expect(s["DefaultOs"] as? String == "Ubuntu 22.04 LTS")
        #expect(s["DefaultRootDeviceType"] as? String == "ebs")
        #expect(s["AgentVersion"] as? String == "4023")
    }

    @Test("A layer's documented defaults are filled in at creation; given values win; it has its Arn")
    func layerDefaults() throws {
        let f = try Fixture()
        let stack = try f.stack()
        let l = try Self.layerItem(f, try f.layer(stack))
        #expect(l["EnableAutoHealing"] as? Bool == true)
        #expect(l["AutoAssignElasticIps"] as? Bool == false)
        #expect(l["AutoAssignPublicIps"] as? Bool == true)
        #expect(l["InstallUpdatesOnBoot"] as? Bool == true)
        #expect(l["UseEbsOptimizedInstances"] as? Bool == false)
        #expect(l["Arn"] as? String == "arn:aws:opsworks:us-east-1:000000000000:layer/\(l["LayerId"] as! String)/")
        let given = try f.call("CreateLayer", ["StackId": stack, "Type": "custom", "Name": "g", "Shortname": "g",
                                               "EnableAutoHealing": false, "AutoAssignElasticIps": true,
                                               "AutoAssignPublicIps": false, "InstallUpdatesOnBoot": false,
                                               "UseEbsOptimizedInstances": true])["LayerId"] as! String
        let g = try Self.layerItem(f, given)
        #expect(g["EnableAutoHealing"] as? Bool == false && g["AutoAssignElasticIps"] as? Bool == true)
        #expect(g["AutoAssignPublicIps"] as? Bool == false && g["InstallUpdatesOnBoot"] as? Bool == false)
        #expect(g["UseEbsOptimizedInstances"] as? Bool == true)
    }

    @Test("An app's Shortname is derived from its Name when not given (lowercase, only a-z0-9-_), EnableSsl false; given values win",
          arguments: [("SimpleJSP", "simplejsp"), ("My App 2.0", "myapp20"), ("web_front-end", "web_front-end"),
                      ("Ünïcode Shop", "ncodeshop")])
    func appDefaults(_ name: String, _ shortname: String) throws {
        let f = try Fixture()
        let stack = try f.stack()
        let a = try Self.appItem(f, try f.app(stack, name))
        #expect(a["Shortname"] as? String == shortname)
        #expect(a["EnableSsl"] as? Bool == false)
        let given = try f.call("CreateApp", ["StackId": stack, "Name": name + " b", "Type": "other",
                                             "Shortname": "mine", "EnableSsl": true])["AppId"] as! String
        let g = try Self.appItem(f, given)
        #expect(g["Shortname"] as? String == "mine" && g["EnableSsl"] as? Bool == true)
    }

    @Test("Two apps of one stack cannot share a Name (CreateApp and UpdateApp); another stack may")
    func appNameUnique() throws {
        let f = try Fixture()
        let s = try f.stack(), t = try f.stack("t")
        let a = try f.app(s, "shop")
        let before = try f.dump()
        f.expectError("CreateApp", ["StackId": s, "Name": "shop", "Type": "other"], "ValidationException",
                      "There is already an app named \"shop\"")
        #expect(try f.dump() == before)
        let b = try f.app(s, "api")
        f.expectError("UpdateApp", ["AppId": b, "Name": "shop"], "ValidationException", "There is already an app named \"shop\"")
        _ = try f.app(t, "shop")
        // Renaming an app to its own name is no conflict.
        try f.call("UpdateApp", ["AppId": a, "Name": "shop", "Description": "same name"])
        #expect(try Self.appItem(f, b)["Name"] as? String == "api")
    }

    @Test("Two layers of one stack cannot share a Name or a Shortname (CreateLayer and UpdateLayer)")
    func layerNameAndShortnameUnique() throws {
        let f = try Fixture()
        let s = try f.stack(), t = try f.stack("t")
        let web = try f.layer(s, "web")
        let before = try f.dump()
        f.expectError("CreateLayer", ["StackId": s, "Type": "custom", "Name": "web", "Shortname": "other"],
                      "ValidationException", "There is already a layer named \"web\" for this stack")
        f.expectError("CreateLayer", ["StackId": s, "Type": "custom", "Name": "other", "Shortname": "web"],
                      "ValidationException", "There is already a layer with shortname \"web\" for this stack")
        #expect(try f.dump() == before)
        let api = try f.layer(s, "api")
        f.expectError("UpdateLayer", ["LayerId": api, "Name": "web"], "ValidationException",
                      "There is already a layer named \"web\" for this stack")
        f.expectError("UpdateLayer", ["LayerId": api, "Shortname": "web"], "ValidationException",
                      "There is already a layer with shortname \"web\" for this stack")
        try f.call("UpdateLayer", ["LayerId": web, "Name": "web", "Shortname": "web"])
        _ = try f.layer(t, "web")
    }

    @Test("A stack has at most one layer of each type other than custom")
    func oneLayerPerType() throws {
        let f = try Fixture()
        let s = try f.stack(), t = try f.stack("t")
        try f.call("CreateLayer", ["StackId": s, "Type": "db-master", "Name": "MySQL", "Shortname": "db-master"])
        f.expectError("CreateLayer", ["StackId": s, "Type": "db-master", "Name": "MySQL 2", "Shortname": "db-master-2"],
                      "ValidationException", "There is already a layer of type db-master in this stack")
        try f.call("CreateLayer", ["StackId": t, "Type": "db-master", "Name": "MySQL", "Shortname": "db-master"])
        _ = try f.layer(s, "c1")
        _ = try f.layer(s, "c2")   // custom: any number
    }

    @Test("Uniqueness is checked after the stack and the permission (rule order)")
    func uniquenessAfterPermission() throws {
        let f = try Fixture()
        let s = try f.stack()
        _ = try f.app(s, "shop")
        _ = try f.layer(s, "web")
        let bob = "arn:aws:iam::123456789012:user/bob"
        try f.call("CreateUserProfile", ["IamUserArn": bob])
        try f.call("SetPermission", ["StackId": s, "IamUserArn": bob, "Level": "deploy"])
        f.as(bob).expectError("CreateApp", ["StackId": s, "Name": "shop", "Type": "other"], "AccessDeniedException")
        f.as(bob).expectError("CreateLayer", ["StackId": s, "Type": "custom", "Name": "web", "Shortname": "web"],
                              "AccessDeniedException")
    }
}
