"""Discord's dark theme, approximately: sizes and colours read off the desktop client
(embeds 520 px at most with 80 px thumbnails, containers about 600 px, 32 px buttons,
gg sans falling back to the sans-serif fonts the machine has). The `phone` class is the
mobile layout: the message column takes the whole width."""

CSS = """
* { box-sizing: border-box; }
html, body { margin: 0; background: #313338; }
body { font-family: "gg sans", "Noto Sans", "Liberation Sans", "DejaVu Sans", sans-serif;
  color: #dbdee1; font-size: 16px; line-height: 1.375; padding: 16px 0 20px; }
a { color: #00a8fc; text-decoration: none; }
.message { display: flex; padding: 2px 16px 2px 16px; gap: 16px; }
.message.ephemeral { background: rgba(88, 101, 242, .06); border-left: 2px solid #5865f2; }
.avatar { flex: none; width: 40px; height: 40px; border-radius: 50%; background: #5865f2;
  color: #fff; display: flex; align-items: center; justify-content: center;
  font-weight: 700; font-size: 18px; margin-top: 2px; }
.main { min-width: 0; flex: 1; }
.used { font-size: 14px; color: #b5bac1; margin: 0 0 4px; }
.used b { color: #dbdee1; font-weight: 500; }
.used .cmd { color: #00a8fc; }
.head { display: flex; align-items: baseline; gap: 6px; }
.author { color: #f2f3f5; font-weight: 500; }
.app { background: #5865f2; color: #fff; font-size: 10px; font-weight: 600; padding: 1px 4px;
  border-radius: 3px; position: relative; top: -2px; }
.time { color: #949ba4; font-size: 12px; }
.content { white-space: normal; overflow-wrap: anywhere; }
.edited { color: #949ba4; font-size: 10px; margin-left: 4px; }
.mention { background: rgba(88, 101, 242, .3); color: #c9cdfb; border-radius: 3px;
  padding: 0 2px; font-weight: 500; }
.timestamp { background: rgba(255, 255, 255, .06); border-radius: 3px; padding: 0 2px; }
code.inline { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 85%;
  background: #2b2d31; border: 1px solid #1e1f22; border-radius: 4px; padding: 0 .2em; }
pre.codeblock { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 14px;
  background: #2b2d31; border: 1px solid #1e1f22; border-radius: 4px; padding: 7px;
  margin: 6px 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.embed pre.codeblock, .container pre.codeblock { background: #1e1f22; }
.spoiler { background: #1e1f22; color: #1e1f22; border-radius: 3px; }
.spoiler-media { filter: blur(12px) brightness(.7); }
.h1 { font-size: 24px; font-weight: 700; margin: 8px 0 4px; color: #f2f3f5; }
.h2 { font-size: 20px; font-weight: 700; margin: 8px 0 4px; color: #f2f3f5; }
.h3 { font-size: 16px; font-weight: 700; margin: 8px 0 4px; color: #f2f3f5; }
.subtext { font-size: 13px; color: #949ba4; }
.quote { border-left: 4px solid #4e5058; padding-left: 12px; }
.embed { max-width: 520px; background: #2b2d31; border-left: 4px solid #1e1f22;
  border-radius: 4px; padding: 8px 16px 16px 12px; margin-top: 8px; font-size: 14px; }
.embed-grid { display: flex; gap: 16px; }
.embed-body { min-width: 0; flex: 1; }
.embed-author { display: flex; gap: 8px; align-items: center; font-weight: 600;
  margin-top: 8px; color: #f2f3f5; }
.author-icon, .footer-icon { width: 24px; height: 24px; border-radius: 50%; }
.footer-icon { width: 20px; height: 20px; }
.embed-title { font-weight: 600; font-size: 16px; margin-top: 8px; color: #f2f3f5; }
.embed-description { margin-top: 8px; overflow-wrap: anywhere; }
.embed-fields { margin-top: 8px; }
.field-row { display: grid; gap: 8px; margin-top: 8px; }
.field-row.cols2 { grid-template-columns: 1fr 1fr; }
.field-row.cols3 { grid-template-columns: 1fr 1fr 1fr; }
.field-name { font-weight: 600; color: #f2f3f5; }
.field-value { overflow-wrap: anywhere; }
.embed-thumbnail { flex: none; margin-top: 8px; }
.embed-thumbnail .thumb { width: 80px; height: 80px; }
.embed-media { margin-top: 16px; }
.embed-footer { display: flex; gap: 8px; align-items: center; margin-top: 8px;
  font-size: 12px; color: #b5bac1; }
img.thumb, .thumb.offline { object-fit: cover; border-radius: 4px; display: block; }
.offline { background: repeating-linear-gradient(45deg, #3f4147 0 8px, #383a40 8px 16px);
  display: flex; align-items: center; justify-content: center; color: #b5bac1;
  font-size: 11px; text-align: center; overflow: hidden; border-radius: 4px; }
.offline span { background: rgba(0, 0, 0, .45); padding: 2px 4px; border-radius: 3px;
  overflow-wrap: anywhere; }
.mosaic { display: grid; gap: 4px; grid-template-columns: repeat(6, 1fr); border-radius: 8px;
  overflow: hidden; max-width: 520px; }
.mosaic .tile { grid-column: span 2; aspect-ratio: 1; min-width: 0; }
.mosaic .tile > *, .mosaic .tile img { width: 100%; height: 100%; object-fit: cover;
  display: block; border-radius: 0; }
.mosaic.n1 .tile { grid-column: span 6; aspect-ratio: auto; max-height: 350px; }
.mosaic.n1 .tile img { height: auto; max-height: 350px; width: auto; max-width: 100%; }
.mosaic.n1 .tile .offline { height: 200px; }
.mosaic.n2 .tile, .mosaic.n4 .tile { grid-column: span 3; }
.mosaic.n3 { grid-template-columns: 2fr 1fr; }
.mosaic.n3 .tile { grid-column: auto; }
.mosaic.n3 .tile:first-child { grid-row: span 2; }
.mosaic.n5 .tile:nth-child(-n+2), .mosaic.n8 .tile:nth-child(-n+2) { grid-column: span 3; }
.mosaic.n7 .tile:first-child, .mosaic.n10 .tile:first-child { grid-column: span 6;
  aspect-ratio: 2; }
.action-row { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; }
.button { height: 32px; min-width: 60px; padding: 2px 16px; border: 0; border-radius: 8px;
  font: inherit; font-size: 14px; font-weight: 500; color: #fff; display: inline-flex;
  align-items: center; justify-content: center; gap: 6px; white-space: nowrap;
  max-width: 100%; overflow: hidden; }
.button .label { overflow: hidden; text-overflow: ellipsis; }
.button.primary { background: #5865f2; }
.button.secondary, .button.link { background: #4e5058; }
.button.success { background: #248046; }
.button.danger { background: #da373c; }
.button.premium { background: #8b5cf6; }
.button.disabled { opacity: .5; cursor: not-allowed; }
.button .external { font-size: 13px; }
.select { width: 100%; max-width: 400px; height: 40px; background: #1e1f22;
  border: 1px solid #1e1f22; border-radius: 4px; display: flex; align-items: center;
  justify-content: space-between; padding: 0 8px 0 12px; font-size: 14px; }
.select .placeholder { color: #949ba4; }
.select .chevron { color: #dbdee1; font-size: 18px; margin-top: -8px; }
.select.disabled { opacity: .5; }
.container { max-width: 600px; background: #393a41; border: 1px solid #44454c;
  border-radius: 8px; padding: 16px; margin-top: 8px; display: flex; flex-direction: column;
  gap: 8px; }
.container.accent { border-left: 4px solid; }
.container > .action-row, .section .action-row { margin-top: 0; }
.section { display: flex; gap: 12px; align-items: flex-start; }
.section-text { flex: 1; min-width: 0; display: flex; flex-direction: column; gap: 8px; }
.accessory { flex: none; }
.thumbnail .thumb { width: 85px; height: 85px; }
.text-display { overflow-wrap: anywhere; }
.media-gallery { max-width: 600px; }
.file { display: flex; gap: 10px; align-items: center; background: #2b2d31;
  border: 1px solid #1e1f22; border-radius: 8px; padding: 10px; max-width: 432px; }
.file-icon { flex: none; }
.icon { vertical-align: -3px; }
.file-name { color: #00a8fc; }
.file-size { color: #949ba4; font-size: 12px; }
.separator.small { height: 0; margin: 0; }
.separator.large { height: 0; margin: 8px 0; }
.separator.divider { border-top: 1px solid #4e5058; }
.unknown-component { border: 2px dashed #f0b232; color: #f0b232; border-radius: 6px;
  padding: 8px; font-size: 13px; }
.attachments { display: flex; flex-direction: column; gap: 8px; margin-top: 8px;
  max-width: 550px; }
.thread { margin-top: 8px; background: #2b2d31; border-radius: 8px; padding: 8px 12px;
  max-width: 480px; font-size: 14px; }
.thread b { color: #f2f3f5; }
.thread .see { color: #00a8fc; margin-left: 6px; }
.only-you { font-size: 12px; color: #949ba4; margin-top: 6px; }
.only-you .dismiss { color: #00a8fc; }
.reply { font-size: 13px; color: #b5bac1; margin-bottom: 2px; }
body.phone { font-size: 15px; padding-top: 12px; }
body.phone .message { padding: 2px 12px; gap: 12px; }
body.phone .embed, body.phone .container, body.phone .mosaic, body.phone .media-gallery,
body.phone .attachments, body.phone .file, body.phone .select { max-width: 100%; }
body.phone .thumbnail .thumb { width: 64px; height: 64px; }
body.phone .embed-thumbnail .thumb { width: 64px; height: 64px; }
body.phone .button { padding: 2px 12px; }
"""
