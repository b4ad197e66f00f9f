use super::*;

/// A page in the shape Azure's List Blobs reference shows.
const PAGE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="https://acct.blob.core.windows.net/" ContainerName="azlin-agents">
  <Prefix>azlin-agent-</Prefix>
  <MaxResults>2</MaxResults>
  <Blobs>
    <Blob>
      <Name>azlin-agent-aa</Name>
      <Properties>
        <Creation-Time>Wed, 02 Dec 2026 09:20:02 GMT</Creation-Time>
        <Last-Modified>Wed, 02 Dec 2026 09:20:02 GMT</Last-Modified>
        <Etag>0x8CBFF45D8A29A19</Etag>
        <Content-Length>9437184</Content-Length>
        <BlobType>BlockBlob</BlobType>
      </Properties>
    </Blob>
    <Blob>
      <Name>a&amp;b &lt;c&gt;</Name>
      <Properties>
        <Content-Length>0</Content-Length>
      </Properties>
    </Blob>
  </Blobs>
  <NextMarker>2!76!MDAw&amp;x</NextMarker>
</EnumerationResults>"#;

#[test]
fn a_list_page_gives_names_creation_times_sizes_and_the_next_marker() {
    let (items, next) = parse_list(PAGE).unwrap();
    assert_eq!(
        items,
        [
            BlobItem {
                name: "azlin-agent-aa".into(),
                created: Some(1796203202),
                bytes: Some(9437184),
            },
            BlobItem {
                name: "a&b <c>".into(),
                created: None,
                bytes: Some(0),
            },
        ]
    );
    assert_eq!(next.as_deref(), Some("2!76!MDAw&x"));
}

#[test]
fn the_last_page_has_an_empty_marker_and_anything_else_is_refused() {
    let last = r#"<EnumerationResults><Blobs /><NextMarker /></EnumerationResults>"#;
    assert_eq!(parse_list(last), Some((Vec::new(), None)));
    let empty_marker =
        r#"<EnumerationResults><Blobs></Blobs><NextMarker></NextMarker></EnumerationResults>"#;
    assert_eq!(parse_list(empty_marker), Some((Vec::new(), None)));
    assert_eq!(parse_list("<Error><Code>x</Code></Error>"), None);
    // A blob cut off mid-way is not a page.
    assert_eq!(
        parse_list("<EnumerationResults><Blobs><Blob><Name>x</Name>"),
        None
    );
}
