import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The parts of a ListObjectsV2 answer (or an S3 error) the daemon needs.
struct ListPage {
    var sizes: [Int64] = []
    var truncated = false
    var nextToken: String?

    static func parse(_ xml: Data) -> ListPage {
        let d = Collector(["Size", "IsTruncated", "NextContinuationToken"])
        let p = XMLParser(data: xml)
        p.delegate = d
        p.parse()
        var page = ListPage()
        page.sizes = d.values["Size", default: []].compactMap { Int64($0) }
        page.truncated = d.values["IsTruncated"]?.first == "true"
        page.nextToken = d.values["NextContinuationToken"]?.first
        return page
    }

    static func errorCode(_ xml: Data) -> String? {
        let d = Collector(["Code", "Message"])
        let p = XMLParser(data: xml)
        p.delegate = d
        p.parse()
        guard let code = d.values["Code"]?.first else { return nil }
        return [code, d.values["Message"]?.first].compactMap { $0 }.joined(separator: ": ")
    }

    /// Collects the text of the named elements.
    private final class Collector: NSObject, XMLParserDelegate {
        let wanted: Set<String>
        var values: [String: [String]] = [:]
        private var current: String?
        private var text = ""

        init(_ wanted: Set<String>) { self.wanted = wanted }

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if wanted.contains(name) { current = name; text = "" }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if current != nil { text += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == current { values[name, default: []].append(text); current = nil }
        }
    }
}
