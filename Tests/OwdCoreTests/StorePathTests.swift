@testable import OwdCore
import Testing

/// An empty path names no file; it is refused rather than taken as in-memory, since it is
/// most often an unset variable and an in-memory store would silently lose the data.
@Test func anEmptyStorePathIsRefusedNotTakenAsInMemory() {
    do {
        _ = try Store(path: "")
        Issue.record("Store(path: \"\") opened a store")
    } catch let e as OwdError {
        #expect(e.code == -4)
        #expect(e.type == "InvalidArgument")
        #expect(e.message.contains("path is empty"))
        #expect(e.message.contains(":memory:"))
    } catch {
        Issue.record("unexpected error \(error)")
    }
}
