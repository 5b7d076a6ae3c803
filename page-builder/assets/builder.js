// Forecourt page builder: the tenant admin's drag-and-drop editor for storefront pages.
//
// Plain ES module, no dependencies, no build step. Everything on screen is built with
// createElement/textContent (never innerHTML with data) so that a strict Content-Security-Policy
// (`default-src 'self'`) holds: no inline scripts, no inline styles, no eval.
//
// State model (see `state` below): the working copy of the page document (`state.doc`) is the
// single source of truth. Every edit goes through `editBlock`/`editPage`/`editTree`, which push an
// undo snapshot, mutate the document, drop the server errors of the edited field, re-validate
// the whole document against the block schemas, re-render the tree, toolbar and error displays,
// and schedule a debounced preview. "Dirty" is the canonical JSON of the serialised document
// differing from the canonical JSON of the last saved/loaded draft.

const API = '/api/v1';
const PAGE = '@page'; // owner of page-level errors (block ids never start with '@')
const LOCALES = ['zh-CN', 'en'];
const CHANNELS = ['web', 'app', 'mini'];
const CATEGORY_ORDER = ['layout', 'catalog', 'finance', 'engagement', 'content'];
const BLOCK_ID_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const PAGE_ID_RE = /^[a-z][a-z0-9-]{0,47}$/;
const ROUTE_PARAMS = ['model', 'configuration', 'quote'];
const PREVIEW_DELAY = 400;
const UNDO_LIMIT = 100;
const SUMMARY_KEYS = ['headline', 'title', 'heading', 'name', 'label', 'text', 'question', 'caption'];

// ---------------------------------------------------------------------------------------------
// UI strings

const STRINGS = {
  en: {
    'app.subtitle': 'Page builder',
    'ui.language': 'Language',
    'logout': 'Log out',
    'skip': 'Skip to the editor',
    'aria.left': 'Pages and blocks',
    'aria.centre': 'Page structure and preview',
    'aria.right': 'Settings',
    'aria.actions': 'Page actions',
    'login.title': 'Sign in to the page builder',
    'login.intro': 'Use your tenant administrator account.',
    'login.tenant': 'Tenant',
    'login.tenantHelp': "Your company's short name, e.g. aurora.",
    'login.email': 'Email',
    'login.password': 'Password',
    'login.submit': 'Sign in',
    'login.busy': 'Signing in…',
    'login.missing': 'Enter the tenant, email and password.',
    'login.failed': 'The tenant, email or password is not right.',
    'login.rate': 'Too many attempts. Try again later.',
    'login.rateIn': 'Too many attempts. Try again in {s} seconds.',
    'login.expired': 'Your session has ended. Sign in again; your unsaved changes are kept.',
    'login.unreachable': "Can't reach the server: {msg}",
    'pages.title': 'Pages',
    'pages.new': 'New page',
    'pages.empty': 'No pages yet.',
    'pages.live': 'Live v{v}',
    'pages.unpublished': 'Not published',
    'pages.changed': 'Draft changed',
    'pages.unsaved': 'Unsaved',
    'palette.title': 'Blocks',
    'palette.filter': 'Filter blocks',
    'palette.add': 'Add',
    'palette.addLabel': 'Add {name}',
    'palette.targetPage': '“Add” puts a block at the end of the page.',
    'palette.targetContainer': '“Add” puts a block inside {name}.',
    'palette.perRequest': 'Filled for each visitor',
    'palette.container': 'Holds other blocks',
    'palette.none': 'No block matches.',
    'palette.loading': 'Loading blocks…',
    'cat.layout': 'Layout',
    'cat.catalog': 'Catalog',
    'cat.finance': 'Finance',
    'cat.engagement': 'Engagement',
    'cat.content': 'Content',
    'cat.other': 'Other',
    'tree.title': 'Page structure',
    'tree.hint': 'Drag to reorder · Alt+↑/↓ moves the selected block',
    'tree.empty': 'Drag blocks here from the palette, or use “Add”.',
    'tree.childrenEmpty': 'Drop blocks here',
    'tree.endHint': 'Drop here to add at the end of the page',
    'tree.up': 'Move {name} up',
    'tree.down': 'Move {name} down',
    'tree.remove': 'Remove {name}',
    'tree.hasErrors': 'Has problems',
    'tree.channels': 'Only on: {list}',
    'tree.noPage': 'Choose a page on the left.',
    'preview.title': 'Preview',
    'preview.locale': 'Preview language',
    'preview.frame': 'Page preview',
    'preview.updating': 'Updating…',
    'preview.ready': 'Up to date',
    'preview.invalid': 'Fix the problems to update the preview.',
    'preview.failed': 'Preview failed: {msg}',
    'preview.version': 'Showing published version {v} (read only).',
    'preview.backToDraft': 'Back to draft',
    'inspector.title': 'Block',
    'inspector.empty': 'Select a block in the page structure to edit it.',
    'inspector.id': 'Block id',
    'inspector.idHelp': 'Lowercase letters, digits, - and _; unique in the page.',
    'inspector.unknownType': 'This block type is not available here; it can only be moved or removed.',
    'inspector.noProps': 'This block has no settings.',
    'inspector.perRequest': 'Filled for each visitor: the preview shows sample content.',
    'inspector.container': 'Holds other blocks: drop them into it in the page structure.',
    'channels.legend': 'Show on',
    'channels.web': 'Web',
    'channels.app': 'App',
    'channels.mini': 'Mini program',
    'page.title': 'Page settings',
    'page.id': 'Page id',
    'page.route': 'Route',
    'page.routeHelp': 'For example /, /models or /models/{model}.',
    'page.nav': 'Navigation position',
    'page.navHelp': 'Leave empty to keep the page out of the navigation.',
    'page.metaTitle': 'Title',
    'page.metaDescription': 'Description',
    'page.metaNavLabel': 'Navigation label',
    'page.metaNavLabelHelp': 'The title is used when empty.',
    'page.meta': 'Titles',
    'toolbar.save': 'Save draft',
    'toolbar.publish': 'Publish',
    'toolbar.undo': 'Undo',
    'toolbar.history': 'History',
    'toolbar.storefront': 'View live page',
    'toolbar.dirty': 'Unsaved changes',
    'toolbar.problems1': '1 problem',
    'toolbar.problems': '{n} problems',
    'publish.needSave': 'Save the draft first, then publish.',
    'publish.needFix': 'Fix the problems first, then save and publish.',
    'publish.never': 'Not published yet.',
    'publish.live': 'Live: version {v}.',
    'status.loading': 'Loading…',
    'status.saving': 'Saving…',
    'status.saved': 'Saved',
    'status.publishing': 'Publishing…',
    'status.published': 'Published version {v}',
    'status.rollingBack': 'Rolling back…',
    'status.rolledBack': 'Rolled back to version {v}',
    'status.invalid': 'Not saved: {n} problem(s) to fix',
    'status.previewInvalid': 'The page has {n} problem(s) to fix',
    'status.stale': 'The draft was changed elsewhere. It has been reloaded: check it, then publish again.',
    'status.nothing': 'Nothing to publish: the live version is already this draft.',
    'status.added': 'Added {name}',
    'status.moved': 'Moved {name}',
    'status.removed': 'Removed {name}',
    'status.undone': 'Undone',
    'status.created': 'Created page {id}',
    'status.failed': '{msg}',
    'status.loggedOut': 'Signed out.',
    'summary.title1': '1 problem to fix',
    'summary.title': '{n} problems to fix',
    'summary.page': 'Page',
    'history.title': 'History',
    'history.none': 'Not published yet.',
    'history.version': 'Version {v}',
    'history.live': 'Live',
    'history.by': 'by {who}',
    'history.preview': 'Preview',
    'history.previewLabel': 'Preview version {v}',
    'history.rollback': 'Roll back',
    'history.rollbackLabel': 'Roll back to version {v}',
    'confirm.cancel': 'Cancel',
    'confirm.rollbackTitle': 'Roll back to version {v}?',
    'confirm.rollbackBody': 'Version {v} becomes the live page at once, and the draft is replaced by its document.',
    'confirm.rollbackDirty': 'Your unsaved changes will be lost.',
    'confirm.rollback': 'Roll back',
    'confirm.discardTitle': 'Discard unsaved changes?',
    'confirm.discardBody': 'The changes to this page have not been saved and will be lost.',
    'confirm.discard': 'Discard changes',
    'newpage.title': 'New page',
    'newpage.id': 'Page id',
    'newpage.idHelp': 'Lowercase letters, digits and -, starting with a letter, e.g. summer-offers.',
    'newpage.route': 'Route',
    'newpage.pageTitle': 'Title ({lang})',
    'newpage.create': 'Create page',
    'newpage.exists': 'A page with this id already exists.',
    'list.add': 'Add item',
    'list.item': 'Item {n}',
    'list.up': 'Move item {n} up',
    'list.down': 'Move item {n} down',
    'list.remove': 'Remove item {n}',
    'list.empty': 'No items yet.',
    'list.count': '{n} / {max}',
    'codes.help': 'Codes separated by commas.',
    'codes.pick': 'Toggle {code}',
    'money.help': 'Amount in major units, e.g. 1234.50.',
    'datetime.tz': 'Time zone UTC{off} · stored as {v}',
    'datetime.tzNew': 'Your time zone (UTC{off}) is used.',
    'json.help': 'JSON value.',
    'image.alt': 'Image preview',
    'rt.bold': 'Bold',
    'rt.italic': 'Italic',
    'rt.h2': 'Heading',
    'rt.p': 'Paragraph',
    'rt.ul': 'Bulleted list',
    'rt.link': 'Link',
    'rt.help': 'HTML: p, h2–h4, strong, em, a, ul/ol/li, img, table. Anything else is removed.',
    'rt.toolbar': 'Formatting',
    'select.none': '— None —',
    'counter': '{n} / {max}',
    'v.required': 'Required',
    'v.minLength': 'At least {n} characters',
    'v.maxLength': 'At most {n} characters',
    'v.minimum': 'Must be at least {n}',
    'v.maximum': 'Must be at most {n}',
    'v.exclusiveMinimum': 'Must be more than {n}',
    'v.exclusiveMaximum': 'Must be less than {n}',
    'v.multipleOf': 'Must be a multiple of {n}',
    'v.pattern': "Doesn't have the expected format",
    'v.enum': 'Choose one of the offered values',
    'v.const': 'Must be {v}',
    'v.type': 'Wrong kind of value (expected {type})',
    'v.integer': 'Must be a whole number',
    'v.number': 'Enter a number',
    'v.money': 'Enter an amount like 1234.50',
    'v.minItems': 'Add at least {n}',
    'v.maxItems': 'At most {n} items',
    'v.uniqueItems': 'Values must not repeat',
    'v.uri': 'Enter a full address starting with https://',
    'v.datetime': 'Enter a date and time',
    'v.email': 'Enter an email address',
    'v.json': 'Not valid JSON',
    'v.blockId': 'Use lowercase letters, digits, - and _ (at most 64)',
    'v.blockIdTaken': 'Another block already uses this id',
    'v.unknownType': 'Unknown block type “{type}”',
    'v.channels': 'Choose at least one channel',
    'v.noChildren': 'This block cannot hold other blocks',
    'v.props': 'The settings of this block are not an object',
    'v.route': 'Start with / and use no spaces',
    'v.routeParam': 'Unknown parameter {p}: use {model}, {configuration} or {quote}',
    'v.metaTitle': 'A title is needed when other fields are filled',
    'v.metaNone': 'Give the page a title in at least one language',
    'v.nav': 'A whole number, 0 or more',
    'v.pageId': 'Lowercase letters, digits and -, starting with a letter (at most 48)',
    'err.network': 'Network error',
    'err.http': 'Request failed ({status})',
    'err.forbidden': "You don't have permission to do this.",
    'err.notFound': 'Not found.',
    'locale.zh-CN': '简体中文 (zh-CN)',
    'locale.en': 'English (en)',
  },
  'zh-CN': {
    'app.subtitle': '页面搭建器',
    'ui.language': '界面语言',
    'logout': '退出登录',
    'skip': '跳到编辑器',
    'aria.left': '页面与区块',
    'aria.centre': '页面结构与预览',
    'aria.right': '设置',
    'aria.actions': '页面操作',
    'login.title': '登录页面搭建器',
    'login.intro': '请使用租户管理员账号登录。',
    'login.tenant': '租户',
    'login.tenantHelp': '贵公司的简称，例如 aurora。',
    'login.email': '邮箱',
    'login.password': '密码',
    'login.submit': '登录',
    'login.busy': '正在登录…',
    'login.missing': '请填写租户、邮箱和密码。',
    'login.failed': '租户、邮箱或密码不正确。',
    'login.rate': '尝试次数过多，请稍后再试。',
    'login.rateIn': '尝试次数过多，请在 {s} 秒后重试。',
    'login.expired': '登录已失效，请重新登录；未保存的修改会保留。',
    'login.unreachable': '无法连接服务器：{msg}',
    'pages.title': '页面',
    'pages.new': '新建页面',
    'pages.empty': '还没有页面。',
    'pages.live': '线上 v{v}',
    'pages.unpublished': '未发布',
    'pages.changed': '草稿有改动',
    'pages.unsaved': '未保存',
    'palette.title': '区块',
    'palette.filter': '筛选区块',
    'palette.add': '添加',
    'palette.addLabel': '添加{name}',
    'palette.targetPage': '“添加”会把区块放到页面末尾。',
    'palette.targetContainer': '“添加”会把区块放进{name}。',
    'palette.perRequest': '按访客实时生成',
    'palette.container': '可包含其他区块',
    'palette.none': '没有匹配的区块。',
    'palette.loading': '正在加载区块…',
    'cat.layout': '布局',
    'cat.catalog': '车型目录',
    'cat.finance': '金融',
    'cat.engagement': '互动',
    'cat.content': '内容',
    'cat.other': '其他',
    'tree.title': '页面结构',
    'tree.hint': '拖动调整顺序 · Alt+↑/↓ 移动所选区块',
    'tree.empty': '从左侧把区块拖到这里，或点击“添加”。',
    'tree.childrenEmpty': '把区块拖到这里',
    'tree.endHint': '拖到这里，添加到页面末尾',
    'tree.up': '上移{name}',
    'tree.down': '下移{name}',
    'tree.remove': '删除{name}',
    'tree.hasErrors': '有问题',
    'tree.channels': '仅在：{list}',
    'tree.noPage': '请在左侧选择一个页面。',
    'preview.title': '预览',
    'preview.locale': '预览语言',
    'preview.frame': '页面预览',
    'preview.updating': '更新中…',
    'preview.ready': '已是最新',
    'preview.invalid': '修正问题后预览才会更新。',
    'preview.failed': '预览失败：{msg}',
    'preview.version': '正在显示已发布的版本 {v}（只读）。',
    'preview.backToDraft': '返回草稿',
    'inspector.title': '区块',
    'inspector.empty': '在页面结构中选择一个区块即可编辑。',
    'inspector.id': '区块 ID',
    'inspector.idHelp': '小写字母、数字、- 和 _，在页面内唯一。',
    'inspector.unknownType': '此区块类型不可用，只能移动或删除。',
    'inspector.noProps': '该区块没有可设置的项。',
    'inspector.perRequest': '按访客实时生成：预览中显示的是示例内容。',
    'inspector.container': '可包含其他区块：在页面结构中把区块拖进来。',
    'channels.legend': '显示渠道',
    'channels.web': '网页',
    'channels.app': 'App',
    'channels.mini': '小程序',
    'page.title': '页面设置',
    'page.id': '页面 ID',
    'page.route': '路由',
    'page.routeHelp': '例如 /、/models 或 /models/{model}。',
    'page.nav': '导航位置',
    'page.navHelp': '留空则不在导航中显示。',
    'page.metaTitle': '标题',
    'page.metaDescription': '描述',
    'page.metaNavLabel': '导航名称',
    'page.metaNavLabelHelp': '留空时使用标题。',
    'page.meta': '标题',
    'toolbar.save': '保存草稿',
    'toolbar.publish': '发布',
    'toolbar.undo': '撤销',
    'toolbar.history': '历史版本',
    'toolbar.storefront': '查看线上页面',
    'toolbar.dirty': '有未保存的修改',
    'toolbar.problems1': '1 个问题',
    'toolbar.problems': '{n} 个问题',
    'publish.needSave': '请先保存草稿，再发布。',
    'publish.needFix': '请先修正问题，再保存并发布。',
    'publish.never': '尚未发布。',
    'publish.live': '线上：版本 {v}。',
    'status.loading': '加载中…',
    'status.saving': '正在保存…',
    'status.saved': '已保存',
    'status.publishing': '正在发布…',
    'status.published': '已发布版本 {v}',
    'status.rollingBack': '正在回滚…',
    'status.rolledBack': '已回滚到版本 {v}',
    'status.invalid': '未保存：有 {n} 个问题需要修正',
    'status.previewInvalid': '页面有 {n} 个问题需要修正',
    'status.stale': '草稿已被他人修改，已重新加载：请检查后再发布。',
    'status.nothing': '无需发布：线上版本已经是当前草稿。',
    'status.added': '已添加{name}',
    'status.moved': '已移动{name}',
    'status.removed': '已删除{name}',
    'status.undone': '已撤销',
    'status.created': '已创建页面 {id}',
    'status.failed': '{msg}',
    'status.loggedOut': '已退出登录。',
    'summary.title1': '有 1 个问题需要修正',
    'summary.title': '有 {n} 个问题需要修正',
    'summary.page': '页面',
    'history.title': '历史版本',
    'history.none': '尚未发布。',
    'history.version': '版本 {v}',
    'history.live': '线上',
    'history.by': '发布人 {who}',
    'history.preview': '预览',
    'history.previewLabel': '预览版本 {v}',
    'history.rollback': '回滚',
    'history.rollbackLabel': '回滚到版本 {v}',
    'confirm.cancel': '取消',
    'confirm.rollbackTitle': '回滚到版本 {v}？',
    'confirm.rollbackBody': '版本 {v} 将立即成为线上页面，草稿也会被替换为该版本的内容。',
    'confirm.rollbackDirty': '未保存的修改将会丢失。',
    'confirm.rollback': '回滚',
    'confirm.discardTitle': '放弃未保存的修改？',
    'confirm.discardBody': '此页面的修改尚未保存，将会丢失。',
    'confirm.discard': '放弃修改',
    'newpage.title': '新建页面',
    'newpage.id': '页面 ID',
    'newpage.idHelp': '小写字母、数字和 -，以字母开头，例如 summer-offers。',
    'newpage.route': '路由',
    'newpage.pageTitle': '标题（{lang}）',
    'newpage.create': '创建页面',
    'newpage.exists': '已有相同 ID 的页面。',
    'list.add': '添加一项',
    'list.item': '第 {n} 项',
    'list.up': '上移第 {n} 项',
    'list.down': '下移第 {n} 项',
    'list.remove': '删除第 {n} 项',
    'list.empty': '还没有内容。',
    'list.count': '{n} / {max}',
    'codes.help': '多个代码用逗号分隔。',
    'codes.pick': '切换 {code}',
    'money.help': '金额（元），例如 1234.50。',
    'datetime.tz': '时区 UTC{off} · 存储为 {v}',
    'datetime.tzNew': '使用您所在的时区（UTC{off}）。',
    'json.help': 'JSON 值。',
    'image.alt': '图片预览',
    'rt.bold': '加粗',
    'rt.italic': '斜体',
    'rt.h2': '标题',
    'rt.p': '段落',
    'rt.ul': '项目列表',
    'rt.link': '链接',
    'rt.help': '支持的 HTML：p、h2–h4、strong、em、a、ul/ol/li、img、table，其他内容会被移除。',
    'rt.toolbar': '格式',
    'select.none': '— 无 —',
    'counter': '{n} / {max}',
    'v.required': '必填',
    'v.minLength': '至少 {n} 个字符',
    'v.maxLength': '最多 {n} 个字符',
    'v.minimum': '不能小于 {n}',
    'v.maximum': '不能大于 {n}',
    'v.exclusiveMinimum': '必须大于 {n}',
    'v.exclusiveMaximum': '必须小于 {n}',
    'v.multipleOf': '必须是 {n} 的倍数',
    'v.pattern': '格式不正确',
    'v.enum': '请选择给定的选项',
    'v.const': '必须是 {v}',
    'v.type': '值的类型不对（应为 {type}）',
    'v.integer': '必须是整数',
    'v.number': '请输入数字',
    'v.money': '请输入金额，例如 1234.50',
    'v.minItems': '至少添加 {n} 项',
    'v.maxItems': '最多 {n} 项',
    'v.uniqueItems': '不能重复',
    'v.uri': '请输入以 https:// 开头的完整网址',
    'v.datetime': '请输入日期和时间',
    'v.email': '请输入邮箱地址',
    'v.json': 'JSON 格式不正确',
    'v.blockId': '只能使用小写字母、数字、- 和 _（最多 64 个）',
    'v.blockIdTaken': '已有其他区块使用此 ID',
    'v.unknownType': '未知的区块类型“{type}”',
    'v.channels': '请至少选择一个渠道',
    'v.noChildren': '此区块不能包含其他区块',
    'v.props': '此区块的设置不是对象',
    'v.route': '以 / 开头，且不能有空格',
    'v.routeParam': '未知参数 {p}：请使用 {model}、{configuration} 或 {quote}',
    'v.metaTitle': '填写了其他字段时必须填写标题',
    'v.metaNone': '请至少用一种语言填写页面标题',
    'v.nav': '请输入 0 或更大的整数',
    'v.pageId': '小写字母、数字和 -，以字母开头（最多 48 个）',
    'err.network': '网络错误',
    'err.http': '请求失败（{status}）',
    'err.forbidden': '您没有执行此操作的权限。',
    'err.notFound': '未找到。',
    'locale.zh-CN': '简体中文 (zh-CN)',
    'locale.en': 'English (en)',
  },
};

// ---------------------------------------------------------------------------------------------
// State

const state = {
  lang: 'en', // UI language: 'en' | 'zh-CN'
  me: null, // GET /me body
  blockDefs: new Map(), // type -> palette entry {type, label, icon, category, container, per_request, schema, defaults}
  blockOrder: [], // types in palette order
  blocksError: '', // why the block library could not be loaded
  pages: [], // page summaries
  pageId: null, // the open page
  detail: null, // last page detail from the server (draft_hash, versions, live_version, storefront_url)
  doc: null, // working copy of the page document (mutable)
  savedCanon: '', // canonical JSON of the draft as last loaded/saved
  selectedId: null, // selected block id
  clientErrors: [], // [{owner, field, message, pointer}] from validating state.doc
  serverErrors: [], // the same shape, from the last 422 (save or preview), keyed by block id
  inputErrors: new Map(), // `${owner}|${field}` -> message: text the control could not turn into a value
  undo: [], // [{doc: string, selectedId}]
  undoKey: null,
  undoAt: 0,
  busy: null, // 'load' | 'save' | 'publish' | 'rollback' | 'create'
  previewLocale: 'zh-CN',
  previewVersion: null, // {version, document} while a published version is shown
  previewTimer: 0,
  previewSeq: 0,
  previewAbort: null,
  loadSeq: 0,
  drag: null, // {kind: 'new', type} | {kind: 'move', id}
  pendingFocus: null,
  pressed: null, // {id, at}: the tree node the pointer went down on
  dropKey: null,
  sessionLost: false,
  // per render of the props form
  formFields: new Set(),
  errorSlots: new Map(), // field name -> slot element (props form and block-level slots)
  controls: new Map(), // field name -> control element
  pageSlots: new Map(),
  pageControls: new Map(),
  idSeq: 0,
};

// ---------------------------------------------------------------------------------------------
// Small helpers

const $ = (sel, root = document) => root.querySelector(sel);
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
const nextId = (p) => `${p}-${++state.idSeq}`;

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isObj(v)) {
    const o = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}
const canon = (v) => JSON.stringify(sortKeys(v));
const deepEqual = (a, b) => canon(a) === canon(b);

function t(key, vars) {
  const table = STRINGS[state.lang] || STRINGS.en;
  let s = table[key] ?? STRINGS.en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// Picks a localised text from {en, zh-CN} (or returns a plain string).
function loc(v, fallback = '') {
  if (typeof v === 'string') return v;
  if (!isObj(v)) return fallback;
  return v[state.lang] || v.en || v['zh-CN'] || Object.values(v).find((x) => typeof x === 'string') || fallback;
}

// h('div', {class, text, dataset, onclick…}, ...children): builds DOM without innerHTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  let value;
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'value') value = v;
      else if (k === 'checked' || k === 'disabled' || k === 'hidden' || k === 'selected' || k === 'multiple') el[k] = Boolean(v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  if (value !== undefined) el.value = value;
  return el;
}

// Element.append without the surprises: null/undefined/false children are skipped (the native
// method would print them as "null").
function append(parent, ...kids) {
  for (const c of kids.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    parent.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return parent;
}

const attrValue = (v) => `"${String(v).replace(/["\\]/g, '\\$&')}"`;

function getAt(root, path) {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[k];
  }
  return v;
}

function setAt(root, path, value) {
  let v = root;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i];
    if (v[k] === null || typeof v[k] !== 'object') v[k] = typeof path[i + 1] === 'number' ? [] : {};
    v = v[k];
  }
  v[path[path.length - 1]] = value;
}

function deleteAt(root, path) {
  const parent = getAt(root, path.slice(0, -1));
  if (isObj(parent)) delete parent[path[path.length - 1]];
}

function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function formatDate(s) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  try {
    return new Intl.DateTimeFormat(state.lang, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
  } catch {
    return d.toLocaleString();
  }
}

function formatMajor(minor) {
  try {
    return new Intl.NumberFormat(state.lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(minor / 100);
  } catch {
    return (minor / 100).toFixed(2);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

async function api(method, path, body, opts = {}) {
  const headers = { Accept: opts.accept || 'application/json, application/problem+json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', signal: opts.signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  let text = '';
  try {
    res = await fetch(API + path, init);
    if (res.status !== 204) text = await res.text();
  } catch (err) {
    if (err && err.name === 'AbortError') return { ok: false, aborted: true, status: 0, problem: {} };
    return { ok: false, status: 0, problem: { title: t('err.network'), detail: String((err && err.message) || err) } };
  }
  const ct = res.headers.get('content-type') || '';
  let data = null;
  if (/json/i.test(ct) && text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.ok) return { ok: true, status: res.status, data, text, headers: res.headers };
  const problem = isObj(data)
    ? data
    : { status: res.status, title: res.statusText || t('err.http', { status: res.status }), detail: /html/i.test(ct) ? '' : text.slice(0, 300) };
  if (res.status === 401 && !opts.noAuthRedirect) sessionLost();
  return { ok: false, status: res.status, problem, headers: res.headers };
}

function problemText(res) {
  const p = res.problem || {};
  if (res.status === 403 && !p.detail) return t('err.forbidden');
  if (res.status === 404 && !p.detail) return t('err.notFound');
  const parts = [];
  if (p.title) parts.push(String(p.title));
  if (p.detail && p.detail !== p.title) parts.push(String(p.detail));
  return parts.join(': ') || t('err.http', { status: res.status });
}

const pagePath = (id, rest = '') => `/admin/pages/${encodeURIComponent(id)}${rest}`;

// ---------------------------------------------------------------------------------------------
// Block tree helpers

const defOf = (block) => (block ? state.blockDefs.get(block.type) : undefined);
const isContainer = (block) => Boolean(defOf(block)?.container);

function blockName(block) {
  const def = defOf(block);
  const label = def ? loc(def.label, block.type) : block.type;
  return `${label} (${block.id})`;
}

// Calls fn(block, {list, index, parent, depth, pointer}) for every block in document order.
function walk(blocks, fn, parent = null, depth = 1, pointer = '/blocks') {
  if (!Array.isArray(blocks)) return;
  blocks.forEach((b, index) => {
    if (!isObj(b)) return;
    const ptr = `${pointer}/${index}`;
    fn(b, { list: blocks, index, parent, depth, pointer: ptr });
    if (Array.isArray(b.children)) walk(b.children, fn, b, depth + 1, `${ptr}/children`);
  });
}

function findBlock(id, doc = state.doc) {
  let found = null;
  if (!doc || id == null) return null;
  walk(doc.blocks, (b, at) => {
    if (!found && b.id === id) found = { block: b, ...at };
  });
  return found;
}

function allIds(doc = state.doc) {
  const ids = new Set();
  if (doc) walk(doc.blocks, (b) => ids.add(b.id));
  return ids;
}

function isDescendant(id, ancestorId) {
  const anc = findBlock(ancestorId);
  if (!anc) return false;
  let hit = false;
  walk(anc.block.children, (b) => {
    if (b.id === id) hit = true;
  });
  return hit;
}

function newBlockId(type) {
  let base = String(type).toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z0-9]+/, '');
  if (!base) base = 'block';
  base = base.slice(0, 56);
  const ids = allIds();
  let n = 1;
  while (ids.has(`${base}-${n}`)) n++;
  return `${base}-${n}`;
}

function nodeSummary(block) {
  const p = block.props;
  if (!isObj(p)) return '';
  for (const k of SUMMARY_KEYS) {
    const v = p[k];
    if (typeof v === 'string' && v.trim()) return v.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 60);
  }
  return '';
}

// ---------------------------------------------------------------------------------------------
// Document: normalise on load, serialise for the server

function normalizeDoc(d) {
  const doc = isObj(d) ? clone(d) : {};
  if (!isObj(doc.meta)) doc.meta = {};
  if (!Array.isArray(doc.blocks)) doc.blocks = [];
  walk(doc.blocks, (b) => {
    if (b.props === undefined || b.props === null) b.props = {};
    if (isContainer(b) && !Array.isArray(b.children)) b.children = [];
  });
  return doc;
}

function serializeBlock(b) {
  const o = { type: b.type, id: b.id, props: b.props === undefined ? {} : clone(b.props) };
  if (Array.isArray(b.children)) {
    if (b.children.length) o.children = b.children.map(serializeBlock);
  } else if (b.children !== undefined) {
    o.children = clone(b.children);
  }
  if (Array.isArray(b.channels)) {
    o.channels = [...CHANNELS.filter((c) => b.channels.includes(c)), ...b.channels.filter((c) => !CHANNELS.includes(c))];
  } else if (b.channels !== undefined && b.channels !== null) {
    o.channels = clone(b.channels);
  }
  for (const k of Object.keys(b)) if (!(k in o) && !['children', 'channels'].includes(k)) o[k] = clone(b[k]);
  return o;
}

function serialize(doc) {
  const o = { schema_version: doc.schema_version ?? 1, id: doc.id, route: doc.route ?? '', meta: {} };
  for (const [locale, m] of Object.entries(doc.meta || {})) {
    if (!isObj(m)) {
      o.meta[locale] = clone(m);
      continue;
    }
    const mm = {};
    for (const [k, v] of Object.entries(m)) {
      if (v === undefined || v === null) continue;
      if (typeof v === 'string' && v.trim() === '' && k !== 'title') continue;
      mm[k] = clone(v);
    }
    const keys = Object.keys(mm);
    if (!keys.length || (keys.length === 1 && keys[0] === 'title' && String(mm.title).trim() === '')) continue;
    if (!('title' in mm)) mm.title = '';
    o.meta[locale] = mm;
  }
  if (doc.nav !== undefined && doc.nav !== null && doc.nav !== '') o.nav = doc.nav;
  o.blocks = (doc.blocks || []).map(serializeBlock);
  for (const k of Object.keys(doc)) if (!(k in o) && k !== 'nav') o[k] = clone(doc[k]);
  return o;
}

const docCanon = () => (state.doc ? canon(serialize(state.doc)) : '');
const isDirty = () => Boolean(state.doc) && docCanon() !== state.savedCanon;

// ---------------------------------------------------------------------------------------------
// Validation (client side, from the block schemas)

function typeList(schema) {
  const ty = schema.type;
  return Array.isArray(ty) ? ty : ty ? [ty] : [];
}

function typeMatches(ty, v) {
  switch (ty) {
    case 'string': return typeof v === 'string';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'boolean': return typeof v === 'boolean';
    case 'array': return Array.isArray(v);
    case 'object': return isObj(v);
    case 'null': return v === null;
    default: return true;
  }
}

const URI_RE = /^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]*$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

function widgetOf(schema) {
  const w = schema && schema['x-editor'] && schema['x-editor'].widget;
  if (w) return w;
  if (!isObj(schema)) return 'text';
  if (Array.isArray(schema.enum)) return 'select';
  const ty = typeList(schema).find((x) => x !== 'null');
  if (ty === 'boolean') return 'checkbox';
  if (ty === 'integer' || ty === 'number') return 'number';
  if (ty === 'array') return isObj(schema.items) && (schema.items.type === 'object' || isObj(schema.items.properties)) ? 'list' : 'codes';
  if (ty === 'object') return 'json';
  if (schema.format === 'date-time') return 'datetime';
  if (schema.format === 'uri') return 'url';
  return 'text';
}

const CODE_WIDGETS = new Set(['model', 'models', 'store', 'codes']);

// Pushes {path, message} for every problem of `value` against `schema`; `path` is relative.
function validateValue(schema, value, path, out, widget) {
  if (!isObj(schema) || value === undefined) return;
  widget = widget || widgetOf(schema);
  const money = widget === 'money';
  const types = typeList(schema);
  if (types.length && !types.some((ty) => typeMatches(ty, value))) {
    if (types.includes('integer') && typeof value === 'number') out.push({ path, message: t('v.integer') });
    else out.push({ path, message: t('v.type', { type: types.join('/') }) });
    return;
  }
  if (value === null) return;
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => deepEqual(e, value))) out.push({ path, message: t('v.enum') });
  if (schema.const !== undefined && !deepEqual(schema.const, value)) out.push({ path, message: t('v.const', { v: JSON.stringify(schema.const) }) });
  if (typeof value === 'string') {
    const len = [...value].length;
    if (typeof schema.minLength === 'number' && len < schema.minLength) {
      out.push({ path, message: len === 0 ? t('v.required') : t('v.minLength', { n: schema.minLength }) });
    }
    if (typeof schema.maxLength === 'number' && len > schema.maxLength) out.push({ path, message: t('v.maxLength', { n: schema.maxLength }) });
    if (typeof schema.pattern === 'string' && value !== '') {
      let re = null;
      try {
        re = new RegExp(schema.pattern, 'u');
      } catch {
        re = null;
      }
      if (re && !re.test(value)) out.push({ path, message: t('v.pattern') });
    }
    if (value !== '') {
      if ((schema.format === 'uri' || schema.format === 'url') && !URI_RE.test(value)) out.push({ path, message: t('v.uri') });
      if (schema.format === 'date-time' && !DATETIME_RE.test(value)) out.push({ path, message: t('v.datetime') });
      if (schema.format === 'email' && !EMAIL_RE.test(value)) out.push({ path, message: t('v.email') });
    }
    if (value === '' && CODE_WIDGETS.has(widget)) out.push({ path, message: t('v.required') });
  }
  if (typeof value === 'number') {
    const show = (n) => (money ? formatMajor(n) : String(n));
    if (typeof schema.minimum === 'number' && value < schema.minimum) out.push({ path, message: t('v.minimum', { n: show(schema.minimum) }) });
    if (typeof schema.maximum === 'number' && value > schema.maximum) out.push({ path, message: t('v.maximum', { n: show(schema.maximum) }) });
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) {
      out.push({ path, message: t('v.exclusiveMinimum', { n: show(schema.exclusiveMinimum) }) });
    }
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) {
      out.push({ path, message: t('v.exclusiveMaximum', { n: show(schema.exclusiveMaximum) }) });
    }
    if (typeof schema.multipleOf === 'number' && schema.multipleOf > 0) {
      const q = value / schema.multipleOf;
      if (Math.abs(q - Math.round(q)) > 1e-9) out.push({ path, message: t('v.multipleOf', { n: show(schema.multipleOf) }) });
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) out.push({ path, message: t('v.minItems', { n: schema.minItems }) });
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) out.push({ path, message: t('v.maxItems', { n: schema.maxItems }) });
    if (schema.uniqueItems) {
      const seen = new Set();
      for (const item of value) {
        const c = canon(item);
        if (seen.has(c)) {
          out.push({ path, message: t('v.uniqueItems') });
          break;
        }
        seen.add(c);
      }
    }
    if (isObj(schema.items)) {
      const itemWidget = widget === 'models' || widget === 'codes' ? 'codes' : undefined;
      value.forEach((item, i) => validateValue(schema.items, item, [...path, i], out, itemWidget));
    }
  }
  if (isObj(value)) {
    const props = isObj(schema.properties) ? schema.properties : {};
    for (const r of Array.isArray(schema.required) ? schema.required : []) {
      if (value[r] === undefined) out.push({ path: [...path, r], message: t('v.required') });
    }
    for (const [k, v] of Object.entries(value)) {
      if (isObj(props[k])) validateValue(props[k], v, [...path, k], out);
    }
  }
}

function validateRoute(route, out) {
  if (typeof route !== 'string' || !route.startsWith('/') || /\s/.test(route)) {
    out.push({ owner: PAGE, field: 'route', message: t('v.route'), pointer: '/route' });
    return;
  }
  for (const m of route.matchAll(/\{([^}]*)\}/g)) {
    if (!ROUTE_PARAMS.includes(m[1])) {
      out.push({ owner: PAGE, field: 'route', message: t('v.routeParam', { p: m[0] }), pointer: '/route' });
    }
  }
}

function revalidate() {
  const out = [];
  if (!state.doc) {
    state.clientErrors = out;
    return;
  }
  const doc = serialize(state.doc);
  validateRoute(doc.route, out);
  const metaEntries = Object.entries(doc.meta);
  if (!metaEntries.length) out.push({ owner: PAGE, field: 'meta', message: t('v.metaNone'), pointer: '/meta' });
  for (const [locale, m] of metaEntries) {
    if (isObj(m) && (typeof m.title !== 'string' || m.title.trim() === '')) {
      out.push({ owner: PAGE, field: `meta.${locale}.title`, message: t('v.metaTitle'), pointer: `/meta/${locale}/title` });
    }
  }
  if (doc.nav !== undefined && !(Number.isInteger(doc.nav) && doc.nav >= 0 && doc.nav <= 4294967295)) {
    out.push({ owner: PAGE, field: 'nav', message: t('v.nav'), pointer: '/nav' });
  }
  const seen = new Set();
  walk(doc.blocks, (b, at) => {
    const owner = b.id;
    const push = (field, message, ptr) => out.push({ owner, field, message, pointer: `${at.pointer}${ptr}` });
    if (typeof b.id !== 'string' || !BLOCK_ID_RE.test(b.id)) push('@id', t('v.blockId'), '/id');
    else if (seen.has(b.id)) push('@id', t('v.blockIdTaken'), '/id');
    seen.add(b.id);
    const def = state.blockDefs.get(b.type);
    if (!def) {
      push('@type', t('v.unknownType', { type: b.type }), '/type');
      return;
    }
    if (!def.container && b.children !== undefined) push('@block', t('v.noChildren'), '/children');
    if (Array.isArray(b.channels) && b.channels.length === 0) push('@channels', t('v.channels'), '/channels');
    if (!isObj(b.props)) {
      push('@block', t('v.props'), '/props');
      return;
    }
    const errs = [];
    validateValue(def.schema, b.props, [], errs);
    for (const e of errs) {
      const field = e.path.length ? e.path.join('.') : '@block';
      if (state.inputErrors.has(`${owner}|${field}`)) continue; // the control's own message wins
      push(field, e.message, `/props${e.path.map((k) => `/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')}`);
    }
  });
  const ids = allIds();
  for (const [key, message] of state.inputErrors) {
    const bar = key.indexOf('|');
    const owner = key.slice(0, bar);
    const field = key.slice(bar + 1);
    if (owner !== PAGE && !ids.has(owner)) {
      state.inputErrors.delete(key);
      continue;
    }
    out.push({ owner, field, message, pointer: '' });
  }
  state.clientErrors = out;
}

function liveServerErrors() {
  const ids = allIds();
  return state.serverErrors.filter((e) => e.owner === PAGE || ids.has(e.owner));
}

function allErrors() {
  const seen = new Set();
  const out = [];
  for (const e of [...state.clientErrors, ...liveServerErrors()]) {
    const key = `${e.owner}|${e.field}|${e.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out;
}

const errorsOf = (owner) => allErrors().filter((e) => e.owner === owner);

function clearServerErrors(owner, field) {
  const related = (f) => f === field || f.startsWith(`${field}.`) || field.startsWith(`${f}.`) || f.startsWith('@block') || f === '@page';
  state.serverErrors = state.serverErrors.filter((e) => !(e.owner === owner && related(e.field)));
}

function setInputError(owner, field, message) {
  const key = `${owner}|${field}`;
  if (message) state.inputErrors.set(key, message);
  else state.inputErrors.delete(key);
}

// ---------------------------------------------------------------------------------------------
// Server errors: JSON pointers into the sent document -> (block id, field)

function parsePointer(p) {
  let s = String(p || '');
  if (s.startsWith('#')) {
    try {
      s = decodeURIComponent(s.slice(1));
    } catch {
      s = s.slice(1);
    }
  }
  if (s === '' || s === '/') return [];
  return s.replace(/^\//, '').split('/').map((x) => x.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolvePointer(pointer, doc) {
  const segs = parsePointer(pointer);
  if (segs[0] !== 'blocks') {
    if (!segs.length) return { owner: PAGE, field: '@page' };
    if (segs[0] === 'route' || segs[0] === 'nav') return { owner: PAGE, field: segs[0] };
    if (segs[0] === 'meta') {
      if (segs.length >= 3) return { owner: PAGE, field: `meta.${segs[1]}.${segs[2]}` };
      if (segs.length === 2) return { owner: PAGE, field: `meta.${segs[1]}.title` };
      return { owner: PAGE, field: 'meta' };
    }
    return { owner: PAGE, field: '@page' };
  }
  let list = doc && doc.blocks;
  let block = null;
  let i = 1;
  while (i < segs.length) {
    const idx = Number(segs[i]);
    if (!Array.isArray(list) || !/^\d+$/.test(segs[i]) || !isObj(list[idx])) break;
    block = list[idx];
    i++;
    if (segs[i] === 'children' && i + 1 < segs.length) {
      list = block.children;
      i++;
      continue;
    }
    break;
  }
  if (!block) return { owner: PAGE, field: '@page' };
  const rest = segs.slice(i);
  if (rest[0] === 'props') return { owner: block.id, field: rest.length > 1 ? rest.slice(1).join('.') : '@block' };
  if (rest[0] === 'id') return { owner: block.id, field: '@id' };
  if (rest[0] === 'channels') return { owner: block.id, field: '@channels' };
  if (rest[0] === 'type') return { owner: block.id, field: '@type' };
  return { owner: block.id, field: '@block' };
}

function mapServerErrors(problem, sentDoc) {
  const list = Array.isArray(problem && problem.errors) ? problem.errors : [];
  const out = [];
  for (const e of list) {
    if (!isObj(e)) continue;
    const pointer = typeof e.pointer === 'string' ? e.pointer : typeof e.path === 'string' ? e.path : '';
    const message = String(e.message || e.detail || e.title || problem.detail || problem.title || '');
    out.push({ ...resolvePointer(pointer, sentDoc), message, pointer, source: 'server' });
  }
  if (!out.length) out.push({ owner: PAGE, field: '@page', message: String(problem.detail || problem.title || ''), pointer: '', source: 'server' });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Undo

function pushUndo(key) {
  if (!state.doc) return;
  const now = Date.now();
  if (key && key === state.undoKey && now - state.undoAt < 1500) {
    state.undoAt = now;
    return;
  }
  state.undo.push({ doc: JSON.stringify(state.doc), selectedId: state.selectedId });
  if (state.undo.length > UNDO_LIMIT) state.undo.shift();
  state.undoKey = key;
  state.undoAt = now;
}

function undo() {
  const snap = state.undo.pop();
  if (!snap) return;
  state.doc = JSON.parse(snap.doc);
  state.selectedId = findBlock(snap.selectedId) ? snap.selectedId : null;
  state.undoKey = null;
  state.inputErrors.clear();
  state.previewVersion = null;
  revalidate();
  renderAllEditor({ preserveFocus: true });
  schedulePreview();
  setStatus(t('status.undone'));
}

// ---------------------------------------------------------------------------------------------
// Edits: every change of the document goes through these

function afterChange({ structural = false } = {}) {
  state.previewVersion = null;
  revalidate();
  renderTree();
  renderPaletteTarget();
  renderToolbar();
  renderPageListMarks();
  renderSummary();
  if (structural) renderForm({ preserveFocus: true });
  else updateFormErrors();
  updatePageFormErrors();
  schedulePreview();
}

function editBlock(blockId, field, mutate, opts = {}) {
  const found = findBlock(blockId);
  if (!found) return;
  pushUndo(opts.coalesce === false ? null : `${blockId}|${field}`);
  mutate(found.block, found);
  clearServerErrors(blockId, field);
  afterChange(opts);
}

function editPage(field, mutate) {
  if (!state.doc) return;
  pushUndo(`${PAGE}|${field}`);
  mutate(state.doc);
  clearServerErrors(PAGE, field);
  if (field.startsWith('meta.')) clearServerErrors(PAGE, 'meta');
  afterChange();
}

function editTree(mutate) {
  if (!state.doc) return;
  pushUndo(null);
  mutate(state.doc);
  afterChange({ structural: true });
}

function listFor(parentId) {
  if (parentId == null) return state.doc.blocks;
  const p = findBlock(parentId);
  if (!p) return null;
  if (!Array.isArray(p.block.children)) p.block.children = [];
  return p.block.children;
}

function insertBlock(type, parentId, index) {
  const def = state.blockDefs.get(type);
  if (!def || !state.doc) return null;
  if (parentId != null && !isContainer(findBlock(parentId)?.block)) return null;
  const block = { type, id: newBlockId(type), props: isObj(def.defaults) ? clone(def.defaults) : {} };
  if (def.container) block.children = [];
  state.selectedId = block.id;
  editTree(() => {
    const list = listFor(parentId);
    list.splice(Math.max(0, Math.min(index, list.length)), 0, block);
  });
  setStatus(t('status.added', { name: blockName(block) }));
  return block.id;
}

function moveBlock(id, parentId, index) {
  const src = findBlock(id);
  if (!src) return false;
  if (parentId != null) {
    if (parentId === id || isDescendant(parentId, id)) return false;
    if (!isContainer(findBlock(parentId)?.block)) return false;
  }
  const target = listFor(parentId);
  if (!target) return false;
  let idx = Math.max(0, Math.min(index, target.length));
  if (src.list === target && src.index < idx) idx--;
  if (src.list === target && src.index === idx) return false;
  editTree(() => {
    src.list.splice(src.index, 1);
    target.splice(idx, 0, src.block);
  });
  setStatus(t('status.moved', { name: blockName(src.block) }));
  return true;
}

function moveSibling(id, delta) {
  const f = findBlock(id);
  if (!f) return;
  const to = f.index + delta;
  if (to < 0 || to >= f.list.length) return;
  moveBlock(id, f.parent ? f.parent.id : null, delta > 0 ? to + 1 : to);
}

// Alt+→: into the previous sibling container (at its end); Alt+←: out, after the parent.
function indentBlock(id) {
  const f = findBlock(id);
  if (!f || f.index === 0) return;
  const prev = f.list[f.index - 1];
  if (!isContainer(prev)) return;
  moveBlock(id, prev.id, (prev.children || []).length);
}

function outdentBlock(id) {
  const f = findBlock(id);
  if (!f || !f.parent) return;
  const p = findBlock(f.parent.id);
  moveBlock(id, p.parent ? p.parent.id : null, p.index + 1);
}

function removeBlock(id) {
  const f = findBlock(id);
  if (!f) return;
  const gone = new Set([id]);
  walk(f.block.children, (b) => gone.add(b.id));
  let next = null;
  if (gone.has(state.selectedId) || state.selectedId == null) {
    const sib = f.list[f.index + 1] || f.list[f.index - 1];
    next = sib ? sib.id : f.parent ? f.parent.id : null;
  } else {
    next = state.selectedId;
  }
  state.selectedId = next;
  state.serverErrors = state.serverErrors.filter((e) => !gone.has(e.owner));
  for (const key of [...state.inputErrors.keys()]) if (gone.has(key.split('|')[0])) state.inputErrors.delete(key);
  editTree(() => {
    f.list.splice(f.index, 1);
  });
  setStatus(t('status.removed', { name: blockName(f.block) }));
}

// Where "Add" on a palette item puts the block: into the selected container, into the container
// of the selected block, or at the end of the page.
function addTarget() {
  const f = state.selectedId ? findBlock(state.selectedId) : null;
  if (f && isContainer(f.block)) return { parentId: f.block.id, index: (f.block.children || []).length, name: blockName(f.block) };
  if (f && f.parent) return { parentId: f.parent.id, index: (f.parent.children || []).length, name: blockName(f.parent) };
  return { parentId: null, index: state.doc ? state.doc.blocks.length : 0, name: null };
}

function selectBlock(id, { focus = false } = {}) {
  state.selectedId = id && findBlock(id) ? id : null;
  renderTree();
  renderForm();
  renderPaletteTarget();
  if (focus) focusNode(state.selectedId);
}

function focusNode(id) {
  if (!id) return;
  const li = $(`#page-tree [data-testid="tree-node"][data-block-id=${attrValue(id)}]`);
  if (li) li.focus();
}

// ---------------------------------------------------------------------------------------------
// Views: login / editor

function show(view) {
  $('#login-view').hidden = view !== 'login';
  $('#editor-view').hidden = view !== 'editor';
  $('#logout').hidden = view !== 'editor';
  document.body.dataset.view = view;
}

function showLogin(message) {
  show('login');
  const notice = $('#login-notice');
  notice.hidden = !message;
  notice.textContent = message || '';
  const err = $('#login-error');
  err.hidden = true;
  err.textContent = '';
  const tenant = $('#login-tenant');
  if (!tenant.value) {
    try {
      tenant.value = localStorage.getItem('forecourt.builder.tenant') || '';
    } catch {
      /* storage may be unavailable */
    }
  }
  (tenant.value ? $('#login-email').value ? $('#login-password') : $('#login-email') : tenant).focus();
}

function sessionLost() {
  if (state.sessionLost) return;
  state.sessionLost = true;
  showLogin(t('login.expired'));
}

async function onLogin(e) {
  e.preventDefault();
  const tenant = $('#login-tenant').value.trim();
  const email = $('#login-email').value.trim();
  const password = $('#login-password').value;
  const err = $('#login-error');
  const showError = (msg) => {
    err.textContent = msg;
    err.hidden = false;
  };
  if (!tenant || !email || !password) {
    showError(t('login.missing'));
    return;
  }
  const btn = $('#login-submit');
  btn.disabled = true;
  btn.textContent = t('login.busy');
  const res = await api('POST', '/auth/login', { tenant, email, password }, { noAuthRedirect: true });
  btn.disabled = false;
  btn.textContent = t('login.submit');
  if (!res.ok) {
    if (res.status === 429) {
      const retry = Number(res.headers && res.headers.get('retry-after'));
      showError(retry > 0 ? t('login.rateIn', { s: retry }) : t('login.rate'));
    } else if (res.status === 401 || res.status === 400 || res.status === 403 || res.status === 422) {
      showError(res.problem.detail || t('login.failed'));
    } else if (res.status === 0) {
      showError(t('login.unreachable', { msg: res.problem.detail || '' }));
    } else {
      showError(problemText(res));
    }
    $('#login-password').select();
    return;
  }
  try {
    localStorage.setItem('forecourt.builder.tenant', tenant);
  } catch {
    /* ignore */
  }
  $('#login-password').value = '';
  err.hidden = true;
  const me = await api('GET', '/me', undefined, { noAuthRedirect: true });
  state.me = me.ok ? me.data : res.data;
  const resumed = state.sessionLost && state.doc;
  state.sessionLost = false;
  if (resumed) {
    show('editor');
    renderWhoami();
    loadPages();
    return;
  }
  await enterEditor();
}

async function onLogout() {
  if (isDirty() && !(await confirmDialog({ title: t('confirm.discardTitle'), body: t('confirm.discardBody'), yes: t('confirm.discard'), danger: true }))) return;
  await api('POST', '/auth/logout', {}, { noAuthRedirect: true });
  resetEditorState();
  $('#whoami').textContent = '';
  showLogin(t('status.loggedOut'));
}

function resetEditorState() {
  Object.assign(state, {
    me: null, pages: [], pageId: null, detail: null, doc: null, savedCanon: '', selectedId: null,
    clientErrors: [], serverErrors: [], undo: [], previewVersion: null, busy: null,
  });
  state.inputErrors.clear();
  clearTimeout(state.previewTimer);
  if (state.previewAbort) state.previewAbort.abort();
  $('#preview').srcdoc = '';
}

function renderWhoami() {
  const me = state.me || {};
  const user = isObj(me.user) ? me.user : me;
  const who = user.email || user.name || user.display_name || '';
  const tenant = isObj(me.tenant) ? me.tenant.slug || loc(me.tenant.name) : me.tenant || user.tenant || '';
  $('#whoami').textContent = [who, tenant].filter(Boolean).join(' · ');
}

async function enterEditor() {
  show('editor');
  renderWhoami();
  renderAllEditor();
  setStatus(t('status.loading'));
  const [blocksRes] = await Promise.all([api('GET', '/admin/blocks'), loadPages()]);
  if (blocksRes.ok) {
    const list = (blocksRes.data && blocksRes.data.blocks) || [];
    state.blockDefs = new Map();
    state.blockOrder = [];
    for (const b of list) {
      if (!isObj(b) || typeof b.type !== 'string') continue;
      state.blockDefs.set(b.type, b);
      state.blockOrder.push(b.type);
    }
  } else if (!blocksRes.aborted && blocksRes.status !== 401) {
    state.blocksError = problemText(blocksRes);
    setStatus(state.blocksError, 'error');
  }
  renderPalette();
  const fromHash = decodeURIComponent((location.hash.match(/page=([^&]+)/) || [])[1] || '');
  const first = state.pages.find((p) => p.id === fromHash) || state.pages[0];
  if (state.doc) {
    // The definitions arrived after a page: normalise again (containers get their children).
    state.doc = normalizeDoc(state.doc);
    revalidate();
    renderAllEditor();
  } else if (first) {
    await openPage(first.id, { force: true });
  } else if ($('#status').textContent === t('status.loading')) {
    setStatus(''); // keep any error the loads above reported
  }
}

async function loadPages() {
  const res = await api('GET', '/admin/pages');
  if (res.ok) {
    state.pages = ((res.data && res.data.pages) || []).filter(isObj);
    renderPageList();
  } else if (res.status !== 401) {
    setStatus(problemText(res), 'error');
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// Page load / save / publish / rollback

async function openPage(id, { force = false } = {}) {
  if (!force && id === state.pageId) return;
  if (!force && isDirty()) {
    const ok = await confirmDialog({ title: t('confirm.discardTitle'), body: t('confirm.discardBody'), yes: t('confirm.discard'), danger: true });
    if (!ok) return;
  }
  const seq = ++state.loadSeq;
  state.busy = 'load';
  renderToolbar();
  setStatus(t('status.loading'));
  const res = await api('GET', pagePath(id));
  if (seq !== state.loadSeq) return;
  state.busy = null;
  if (!res.ok) {
    renderToolbar();
    if (res.status !== 401) setStatus(problemText(res), 'error');
    return;
  }
  setStatus('');
  applyDetail(res.data, { resetSelection: id !== state.pageId, resetUndo: true });
  try {
    history.replaceState(null, '', `#page=${encodeURIComponent(id)}`);
  } catch {
    /* ignore */
  }
}

// Takes a page detail from the server as the new saved state (and the working copy).
function applyDetail(detail, { resetSelection = false, keepDoc = false, resetUndo = false, preview = true } = {}) {
  state.detail = detail;
  state.pageId = detail.id;
  const draft = normalizeDoc(detail.draft || { schema_version: 1, id: detail.id, route: detail.route, meta: {}, blocks: [] });
  state.savedCanon = canon(serialize(draft));
  if (!keepDoc) {
    state.doc = draft;
    state.inputErrors.clear();
  }
  if (resetUndo) {
    state.undo = [];
    state.undoKey = null;
  }
  if (resetSelection || !findBlock(state.selectedId)) state.selectedId = null;
  state.serverErrors = [];
  state.previewVersion = null;
  revalidate();
  renderAllEditor({ preserveFocus: true });
  if (preview) schedulePreview(0);
}

async function save() {
  if (!state.doc || state.busy) return false;
  const sent = serialize(state.doc);
  const sentCanon = canon(sent);
  state.busy = 'save';
  renderToolbar();
  setStatus(t('status.saving'), 'busy');
  const res = await api('PUT', pagePath(state.pageId), sent);
  state.busy = null;
  if (res.ok && isObj(res.data)) {
    const unchanged = docCanon() === sentCanon;
    applyDetail(res.data, { keepDoc: !unchanged, preview: !unchanged || canon(serialize(normalizeDoc(res.data.draft))) !== sentCanon });
    setStatus(t('status.saved'), 'success');
    loadPages();
    return true;
  }
  renderToolbar();
  if (res.status === 422) {
    state.serverErrors = mapServerErrors(res.problem, sent);
    refreshErrorViews();
    setStatus(t('status.invalid', { n: allErrors().length }), 'error');
  } else if (res.status !== 401) {
    setStatus(problemText(res), 'error');
  }
  return false;
}

async function publish() {
  if (!state.doc || state.busy || isDirty() || allErrors().length || !state.detail) return;
  state.busy = 'publish';
  renderToolbar();
  setStatus(t('status.publishing'), 'busy');
  const res = await api('POST', pagePath(state.pageId, '/publish'), { draft_hash: state.detail.draft_hash });
  state.busy = null;
  if (res.ok && isObj(res.data)) {
    applyDetail(res.data, { keepDoc: isDirty(), preview: false });
    setStatus(t('status.published', { v: res.data.live_version }), 'success');
    loadPages();
    return;
  }
  renderToolbar();
  const code = res.problem && res.problem.code;
  if (res.status === 409 && code === 'stale_draft') {
    await openPage(state.pageId, { force: true });
    setStatus(t('status.stale'), 'error');
  } else if (res.status === 409 && code === 'nothing_to_publish') {
    setStatus(t('status.nothing'), 'info');
  } else if (res.status === 422) {
    state.serverErrors = mapServerErrors(res.problem, serialize(state.doc));
    refreshErrorViews();
    setStatus(t('status.invalid', { n: allErrors().length }), 'error');
  } else if (res.status !== 401) {
    setStatus(problemText(res), 'error');
  }
}

async function rollback(version) {
  if (!state.doc || state.busy) return;
  const body = [t('confirm.rollbackBody', { v: version })];
  if (isDirty()) body.push(t('confirm.rollbackDirty'));
  const ok = await confirmDialog({
    title: t('confirm.rollbackTitle', { v: version }),
    body: body.join(' '),
    yes: t('confirm.rollback'),
    danger: true,
  });
  if (!ok) return;
  state.busy = 'rollback';
  renderToolbar();
  renderHistory();
  setStatus(t('status.rollingBack'), 'busy');
  const res = await api('POST', pagePath(state.pageId, '/rollback'), { version });
  state.busy = null;
  if (res.ok && isObj(res.data)) {
    applyDetail(res.data, { resetUndo: true });
    setStatus(t('status.rolledBack', { v: version }), 'success');
    loadPages();
    return;
  }
  renderToolbar();
  renderHistory();
  if (res.status !== 401) setStatus(problemText(res), 'error');
}

async function previewVersion(version) {
  const res = await api('GET', pagePath(state.pageId, `/versions/${encodeURIComponent(version)}`));
  if (!res.ok) {
    if (res.status !== 401) setStatus(problemText(res), 'error');
    return;
  }
  state.previewVersion = { version, document: res.data.document };
  renderPreviewBanner();
  schedulePreview(0);
}

async function newPage() {
  if (isDirty()) {
    const ok = await confirmDialog({ title: t('confirm.discardTitle'), body: t('confirm.discardBody'), yes: t('confirm.discard'), danger: true });
    if (!ok) return;
  }
  const values = await newPageDialog();
  if (!values) return;
  const doc = {
    schema_version: 1,
    id: values.id,
    route: values.route,
    meta: { [state.lang]: { title: values.title } },
    blocks: [],
  };
  state.busy = 'create';
  setStatus(t('status.saving'), 'busy');
  const res = await api('PUT', pagePath(values.id), doc);
  state.busy = null;
  if (res.ok && isObj(res.data)) {
    await loadPages();
    applyDetail(res.data, { resetSelection: true, resetUndo: true });
    try {
      history.replaceState(null, '', `#page=${encodeURIComponent(values.id)}`);
    } catch {
      /* ignore */
    }
    setStatus(t('status.created', { id: values.id }), 'success');
  } else {
    renderToolbar();
    if (res.status === 422) {
      const errs = mapServerErrors(res.problem, doc).map((e) => e.message);
      setStatus(`${problemText(res)} — ${errs.join('; ')}`, 'error');
    } else if (res.status !== 401) {
      setStatus(problemText(res), 'error');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Preview

function schedulePreview(delay = PREVIEW_DELAY) {
  if (!state.doc) return;
  clearTimeout(state.previewTimer);
  setPreviewState(t('preview.updating'), 'busy');
  state.previewTimer = setTimeout(() => {
    state.previewTimer = 0;
    runPreview();
  }, delay);
}

async function runPreview() {
  if (!state.doc || !state.pageId) return;
  const seq = ++state.previewSeq;
  if (state.previewAbort) state.previewAbort.abort();
  const ac = typeof AbortController === 'function' ? new AbortController() : null;
  state.previewAbort = ac;
  const versionMode = state.previewVersion;
  const doc = versionMode ? versionMode.document : serialize(state.doc);
  const locale = state.previewLocale;
  const res = await api('POST', pagePath(state.pageId, `/preview?locale=${encodeURIComponent(locale)}`), doc, {
    accept: 'text/html',
    signal: ac ? ac.signal : undefined,
  });
  if (seq !== state.previewSeq || res.aborted || state.previewTimer) return; // a newer preview is on its way
  const overlay = $('#preview-overlay');
  if (res.ok) {
    $('#preview').srcdoc = res.text || '';
    overlay.hidden = true;
    setPreviewState(t('preview.ready'), 'ok');
    if (!versionMode && state.serverErrors.length) {
      state.serverErrors = [];
      refreshErrorViews();
    }
    return;
  }
  if (res.status === 422 && !versionMode) {
    state.serverErrors = mapServerErrors(res.problem, doc);
    refreshErrorViews();
    overlay.textContent = t('preview.invalid');
    overlay.hidden = false;
    setPreviewState(t('preview.invalid'), 'error');
    return;
  }
  if (res.status === 401) return;
  const msg = t('preview.failed', { msg: problemText(res) });
  overlay.textContent = msg;
  overlay.hidden = false;
  setPreviewState(msg, 'error');
}

function setPreviewState(text, kind) {
  const el = $('#preview-state');
  el.textContent = text;
  el.dataset.kind = kind || '';
}

function renderPreviewBanner() {
  const banner = $('#preview-banner');
  banner.hidden = !state.previewVersion;
  $('#preview-banner-text').textContent = state.previewVersion ? t('preview.version', { v: state.previewVersion.version }) : '';
}

// ---------------------------------------------------------------------------------------------
// Rendering: everything

function renderAllEditor({ preserveFocus = false } = {}) {
  renderToolbar();
  renderPageList();
  renderPalette();
  renderTree();
  renderForm({ preserveFocus });
  renderPageForm({ preserveFocus });
  renderSummary();
  renderHistory();
  renderPreviewBanner();
}

function refreshErrorViews() {
  renderTree();
  renderToolbar();
  renderSummary();
  updateFormErrors();
  updatePageFormErrors();
}

function setStatus(text, kind = 'info') {
  const el = $('#status');
  el.textContent = text || '';
  el.dataset.kind = kind;
}

function pageTitle(doc) {
  if (!doc) return '';
  const meta = doc.meta || {};
  const pick = (l) => (isObj(meta[l]) && typeof meta[l].title === 'string' && meta[l].title.trim() ? meta[l].title : '');
  return pick(state.lang) || pick('en') || pick('zh-CN') || Object.keys(meta).map(pick).find(Boolean) || doc.id || '';
}

function renderToolbarHeading() {
  $('#page-heading').textContent = state.doc ? pageTitle(state.doc) : t('tree.noPage');
  $('#page-route').textContent = state.doc ? state.doc.route || '' : '';
  $('#page-route').hidden = !state.doc;
}

function renderToolbar() {
  renderToolbarHeading();
  const dirty = isDirty();
  const errors = state.doc ? allErrors().length : 0;
  const detail = state.detail;
  $('#dirty').hidden = !dirty;
  $('#undo').disabled = !state.undo.length || Boolean(state.busy);
  $('#save-draft').disabled = !state.doc || Boolean(state.busy);
  const pub = $('#publish');
  pub.disabled = !state.doc || Boolean(state.busy) || dirty || errors > 0;
  let hint = '';
  if (state.doc) {
    if (errors) hint = t('publish.needFix');
    else if (dirty) hint = t('publish.needSave');
    else if (detail && detail.live_version != null) hint = t('publish.live', { v: detail.live_version });
    else hint = t('publish.never');
  }
  $('#publish-hint').textContent = hint;
  $('#publish-hint').dataset.kind = errors || dirty ? 'warn' : '';
  const problems = $('#problems-button');
  problems.hidden = !errors;
  problems.textContent = errors === 1 ? t('toolbar.problems1') : t('toolbar.problems', { n: errors });
  const link = $('#storefront-link');
  if (detail && detail.storefront_url) {
    link.setAttribute('href', detail.storefront_url);
    link.removeAttribute('aria-disabled');
  } else {
    link.removeAttribute('href');
    link.setAttribute('aria-disabled', 'true');
  }
  link.classList.toggle('is-unpublished', !detail || detail.live_version == null);
  document.title = state.doc ? `${dirty ? '● ' : ''}${pageTitle(state.doc)} · Forecourt` : 'Forecourt · Page builder';
}

// ---------------------------------------------------------------------------------------------
// Rendering: page list

function renderPageList() {
  const ul = $('#page-list');
  ul.replaceChildren();
  if (!state.pages.length) {
    append(ul, h('li', { class: 'empty-state' }, t('pages.empty')));
    return;
  }
  for (const p of state.pages) {
    const current = p.id === state.pageId;
    const badges = h('span', { class: 'page-badges' });
    if (p.live_version != null) append(badges, h('span', { class: 'badge badge-live' }, t('pages.live', { v: p.live_version })));
    else append(badges, h('span', { class: 'badge' }, t('pages.unpublished')));
    if (p.draft_changed) append(badges, h('span', { class: 'badge badge-warn' }, t('pages.changed')));
    if (current) append(badges, h('span', { class: 'badge badge-dirty', 'data-unsaved-mark': '' }, t('pages.unsaved')));
    const btn = h(
      'button',
      {
        type: 'button',
        class: 'page-item',
        'data-testid': 'page-item',
        'data-page-id': p.id,
        'aria-current': current ? 'true' : null,
      },
      h('span', { class: 'page-item-title' }, p.title || p.id),
      h('code', { class: 'page-item-route' }, p.route || ''),
      badges,
    );
    btn.addEventListener('click', () => openPage(p.id));
    append(ul, h('li', null, btn));
  }
  renderPageListMarks();
}

function renderPageListMarks() {
  const dirty = isDirty();
  for (const mark of document.querySelectorAll('#page-list [data-unsaved-mark]')) mark.hidden = !dirty;
}

// ---------------------------------------------------------------------------------------------
// Rendering: palette

function renderPalette() {
  const root = $('#palette');
  root.replaceChildren();
  if (!state.blockOrder.length) {
    append(root, h('p', { class: 'empty-state' }, state.blocksError || (state.me ? t('palette.loading') : '')));
    return;
  }
  const filter = $('#palette-filter').value.trim().toLowerCase();
  const groups = new Map();
  for (const type of state.blockOrder) {
    const def = state.blockDefs.get(type);
    const label = loc(def.label, type);
    if (filter && !`${label} ${type} ${loc(def.label, '')}`.toLowerCase().includes(filter)) continue;
    const cat = CATEGORY_ORDER.includes(def.category) ? def.category : def.category || 'other';
    if (!groups.has(cat)) groups.set(cat, []);
    groups.get(cat).push(def);
  }
  const cats = [...groups.keys()].sort((a, b) => {
    const ia = CATEGORY_ORDER.indexOf(a);
    const ib = CATEGORY_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  });
  if (!cats.length) append(root, h('p', { class: 'empty-state' }, t('palette.none')));
  for (const cat of cats) {
    const headingId = nextId('cat');
    const catLabel = STRINGS.en[`cat.${cat}`] ? t(`cat.${cat}`) : cat;
    const list = h('ul', { class: 'palette-list', 'aria-labelledby': headingId });
    for (const def of groups.get(cat)) {
      const label = loc(def.label, def.type);
      const notes = [];
      if (def.container) notes.push(t('palette.container'));
      if (def.per_request) notes.push(t('palette.perRequest'));
      const item = h(
        'li',
        {
          class: 'palette-item',
          'data-testid': 'palette-item',
          'data-block-type': def.type,
          draggable: 'true',
          title: [label, ...notes].join(' · '),
        },
        h('span', { class: 'palette-icon', 'aria-hidden': 'true' }, def.icon || '▫'),
        h('span', { class: 'palette-label' }, label, def.per_request ? h('span', { class: 'palette-flag', 'aria-hidden': 'true', title: t('palette.perRequest') }, '⚡') : null),
        h('button', {
          type: 'button',
          class: 'btn btn-small btn-secondary palette-add',
          'data-testid': 'palette-add',
          'aria-label': t('palette.addLabel', { name: label }),
          disabled: !state.doc,
        }, t('palette.add')),
      );
      append(list, item);
    }
    append(root, h('section', { class: 'palette-group' }, h('h3', { id: headingId, class: 'palette-cat' }, catLabel), list));
  }
  renderPaletteTarget();
}

function renderPaletteTarget() {
  const el = $('#palette-target');
  if (!state.doc) {
    el.textContent = '';
    return;
  }
  const target = addTarget();
  el.textContent = target.parentId ? t('palette.targetContainer', { name: target.name }) : t('palette.targetPage');
  for (const b of document.querySelectorAll('#palette [data-testid="palette-add"]')) b.disabled = !state.doc;
}

// ---------------------------------------------------------------------------------------------
// Rendering: the page tree

function renderTree() {
  const tree = $('#page-tree');
  // Keep focus on the same node/button across the re-render.
  const active = document.activeElement;
  let focusId = null;
  let focusTestId = null;
  if (active && tree.contains(active)) {
    const li = active.closest('[data-testid="tree-node"]');
    focusId = li ? li.dataset.blockId : null;
    focusTestId = active === li ? null : active.getAttribute('data-testid');
  }
  tree.replaceChildren();
  if (!state.doc) {
    append(tree, h('li', { class: 'tree-placeholder', role: 'none' }, t('tree.noPage')));
    return;
  }
  const owners = new Set(allErrors().map((e) => e.owner));
  const selectedExists = state.selectedId && findBlock(state.selectedId);
  const renderList = (blocks, ul, depth) => {
    blocks.forEach((b, index) => {
      if (isObj(b)) append(ul, renderNode(b, depth, index, blocks.length, owners, selectedExists));
    });
  };
  renderList(state.doc.blocks, tree, 1);
  if (!state.doc.blocks.length) append(tree, h('li', { class: 'tree-placeholder', role: 'none' }, t('tree.empty')));
  else append(tree, h('li', { class: 'tree-end', role: 'none' }, h('span', { class: 'tree-end-hint' }, t('tree.endHint'))));
  // The "add at the end" zone is about as tall as the blocks above it, so that the middle of the
  // top-level list is in it (dropping "onto the page tree" means the top level).
  tree.dataset.rows = String(Math.min(12, tree.querySelectorAll('.node-row, .tree-children > .tree-placeholder').length));
  if (focusId) {
    const li = tree.querySelector(`[data-testid="tree-node"][data-block-id=${attrValue(focusId)}]`);
    if (li) {
      const btn = focusTestId ? li.querySelector(`:scope > .node-row [data-testid=${attrValue(focusTestId)}]`) : null;
      (btn && !btn.disabled ? btn : li).focus();
    }
  }
}

function renderNode(b, depth, index, count, owners, selectedExists) {
  const def = defOf(b);
  const selected = b.id === state.selectedId;
  const label = def ? loc(def.label, b.type) : b.type;
  const name = `${label} (${b.id})`;
  const labelId = nextId('node');
  const hasErr = owners.has(b.id);
  const li = h('li', {
    class: `tree-node${hasErr ? ' has-error' : ''}${def && def.container ? ' is-container' : ''}`,
    'data-testid': 'tree-node',
    'data-block-id': b.id,
    'data-block-type': b.type,
    'data-invalid': hasErr ? 'true' : null,
    draggable: 'true',
    role: 'treeitem',
    'aria-selected': selected ? 'true' : 'false',
    'aria-level': depth,
    'aria-posinset': index + 1,
    'aria-setsize': count,
    'aria-labelledby': labelId,
    'aria-expanded': def && def.container ? 'true' : null,
    tabindex: selected || (!selectedExists && depth === 1 && index === 0) ? '0' : '-1',
  });
  const summary = nodeSummary(b);
  const row = h(
    'div',
    { class: 'node-row' },
    h('span', { class: 'drag-handle', 'aria-hidden': 'true' }, '⠿'),
    h('span', { class: 'node-icon', 'aria-hidden': 'true' }, def ? def.icon || '▫' : '?'),
    h(
      'span',
      { class: 'node-text', id: labelId },
      h('span', { class: 'node-label' }, label),
      summary ? h('span', { class: 'node-summary' }, summary) : null,
      h('code', { class: 'node-id' }, b.id),
    ),
    hasErr ? h('span', { class: 'node-error', title: t('tree.hasErrors') }, h('span', { 'aria-hidden': 'true' }, '!'), h('span', { class: 'visually-hidden' }, t('tree.hasErrors'))) : null,
    Array.isArray(b.channels) && b.channels.length < CHANNELS.length
      ? h('span', { class: 'node-channels', title: t('tree.channels', { list: b.channels.map((c) => t(`channels.${c}`)).join(', ') }) }, b.channels.map((c) => t(`channels.${c}`)).join(' · ') || '∅')
      : null,
    h(
      'span',
      { class: 'node-actions' },
      h('button', { type: 'button', class: 'icon-btn', 'data-testid': 'node-up', 'data-action': 'up', 'aria-label': t('tree.up', { name }), title: t('tree.up', { name }), disabled: index === 0 }, '↑'),
      h('button', { type: 'button', class: 'icon-btn', 'data-testid': 'node-down', 'data-action': 'down', 'aria-label': t('tree.down', { name }), title: t('tree.down', { name }), disabled: index === count - 1 }, '↓'),
      h('button', { type: 'button', class: 'icon-btn icon-btn-danger', 'data-testid': 'node-remove', 'data-action': 'remove', 'aria-label': t('tree.remove', { name }), title: t('tree.remove', { name }) }, '✕'),
    ),
  );
  append(li, row);
  if (def && def.container) {
    const ul = h('ul', { class: 'tree-list tree-children', 'data-testid': 'tree-children', 'data-parent-id': b.id, role: 'group' });
    const kids = Array.isArray(b.children) ? b.children : [];
    kids.forEach((c, i) => {
      if (isObj(c)) append(ul, renderNode(c, depth + 1, i, kids.length, owners, selectedExists));
    });
    if (!kids.length) append(ul, h('li', { class: 'tree-placeholder', role: 'none' }, t('tree.childrenEmpty')));
    append(li, ul);
  } else if (Array.isArray(b.children) && b.children.length) {
    // Children on a block that cannot hold them: still shown so that they can be moved out.
    const ul = h('ul', { class: 'tree-list tree-children tree-children-invalid', 'data-parent-id': b.id, role: 'group' });
    b.children.forEach((c, i) => {
      if (isObj(c)) append(ul, renderNode(c, depth + 1, i, b.children.length, owners, selectedExists));
    });
    append(li, ul);
  }
  return li;
}

function visibleNodeIds() {
  return [...document.querySelectorAll('#page-tree [data-testid="tree-node"]')].map((li) => li.dataset.blockId);
}

function onTreeClick(e) {
  const li = e.target.closest('[data-testid="tree-node"]');
  if (!li) return;
  const id = li.dataset.blockId;
  const btn = e.target.closest('button[data-action]');
  if (btn) {
    if (btn.closest('[data-testid="tree-node"]') !== li) return;
    if (btn.dataset.action === 'up') moveSibling(id, -1);
    else if (btn.dataset.action === 'down') moveSibling(id, 1);
    else if (btn.dataset.action === 'remove') {
      removeBlock(id);
      if (state.selectedId) focusNode(state.selectedId);
      else $('#page-tree').focus();
    }
    return;
  }
  if (id !== state.selectedId) selectBlock(id);
  const fresh = $(`#page-tree [data-testid="tree-node"][data-block-id=${attrValue(id)}]`);
  if (fresh) fresh.focus({ preventScroll: true });
}

function onTreeKeydown(e) {
  const li = e.target.closest && e.target.closest('[data-testid="tree-node"]');
  if (!li || e.target !== li) return;
  const id = li.dataset.blockId;
  const ids = visibleNodeIds();
  const pos = ids.indexOf(id);
  const key = e.key;
  let handled = true;
  if (e.altKey && key === 'ArrowUp') moveSibling(id, -1);
  else if (e.altKey && key === 'ArrowDown') moveSibling(id, 1);
  else if (e.altKey && key === 'ArrowRight') indentBlock(id);
  else if (e.altKey && key === 'ArrowLeft') outdentBlock(id);
  else if (key === 'ArrowDown' && pos < ids.length - 1) selectBlock(ids[pos + 1], { focus: true });
  else if (key === 'ArrowUp' && pos > 0) selectBlock(ids[pos - 1], { focus: true });
  else if (key === 'Home' && ids.length) selectBlock(ids[0], { focus: true });
  else if (key === 'End' && ids.length) selectBlock(ids[ids.length - 1], { focus: true });
  else if (key === 'Delete' || key === 'Backspace') {
    removeBlock(id);
    if (state.selectedId) focusNode(state.selectedId);
  } else if (key === 'Enter' || key === ' ') {
    if (id !== state.selectedId) selectBlock(id, { focus: true });
    else {
      const first = $('#props-form input, #props-form select, #props-form textarea');
      if (first) first.focus();
    }
  } else handled = false;
  if (handled) e.preventDefault();
}

// ---------------------------------------------------------------------------------------------
// Drag and drop (HTML5): palette items and tree nodes are draggable; the tree root and every
// container's children list are drop zones. A drop resolves to (parent id | null, index).

const DRAG_MIME = 'application/x-forecourt-block';

function onPaletteDragStart(e) {
  const item = e.target.closest && e.target.closest('[data-testid="palette-item"]');
  if (!item || !state.doc) {
    if (item) e.preventDefault();
    return;
  }
  state.drag = { kind: 'new', type: item.dataset.blockType };
  try {
    e.dataTransfer.effectAllowed = 'copy';
    e.dataTransfer.setData(DRAG_MIME, JSON.stringify(state.drag));
  } catch {
    /* some engines restrict dataTransfer */
  }
  item.classList.add('dragging');
  document.body.classList.add('is-dragging');
}

// The node the pointer went down on. It is the drag source: if the list scrolls between the press
// and the first move, the engine may report the node that is under the pointer afterwards.
function onTreePointerDown(e) {
  const li = e.target.closest && e.target.closest('[data-testid="tree-node"]');
  state.pressed = li ? { id: li.dataset.blockId, at: Date.now() } : null;
}

function onTreeDragStart(e) {
  let li = e.target.closest && e.target.closest('[data-testid="tree-node"]');
  if (!li) return;
  const pressed = state.pressed;
  state.pressed = null;
  if (pressed && pressed.id !== li.dataset.blockId && Date.now() - pressed.at < 3000) {
    const other = $(`#page-tree [data-testid="tree-node"][data-block-id=${attrValue(pressed.id)}]`);
    if (other) li = other;
  }
  e.stopPropagation();
  state.drag = { kind: 'move', id: li.dataset.blockId };
  try {
    e.dataTransfer.effectAllowed = 'move';
    e.dataTransfer.setData(DRAG_MIME, JSON.stringify(state.drag));
  } catch {
    /* ignore */
  }
  requestAnimationFrame(() => li.classList.add('dragging'));
  document.body.classList.add('is-dragging');
}

function dragFromEvent(e) {
  if (state.drag) return state.drag;
  const types = e.dataTransfer ? [...(e.dataTransfer.types || [])] : [];
  if (!types.includes(DRAG_MIME)) return null;
  if (e.type === 'drop') {
    try {
      const d = JSON.parse(e.dataTransfer.getData(DRAG_MIME));
      if (isObj(d) && (d.kind === 'new' || d.kind === 'move')) return d;
    } catch {
      return null;
    }
    return null;
  }
  return { kind: 'unknown' };
}

function computeDrop(e, drag) {
  const tree = $('#page-tree');
  let el = e.target;
  if (el && el.nodeType !== 1) el = el.parentElement;
  if (!el || !state.doc) return null;
  if (el === $('#tree-scroll')) {
    const r = tree.getBoundingClientRect();
    return { parentId: null, index: e.clientY < r.top ? 0 : state.doc.blocks.length };
  }
  if (!tree.contains(el)) return null;
  let parentId = null;
  let index = 0;
  const row = el.closest('.node-row');
  if (row && tree.contains(row)) {
    const li = row.parentElement;
    const f = findBlock(li.dataset.blockId);
    if (!f) return null;
    const rect = row.getBoundingClientRect();
    const frac = rect.height > 0 ? (e.clientY - rect.top) / rect.height : 0.5;
    const pid = f.parent ? f.parent.id : null;
    if (isContainer(f.block) && frac >= 0.3) {
      parentId = f.block.id; // into the container, first position
      index = 0;
    } else if (frac < 0.25) {
      parentId = pid;
      index = f.index;
    } else if (frac > 0.75) {
      parentId = pid;
      index = f.index + 1;
    } else {
      // The middle of a row: the dragged block takes this block's place.
      parentId = pid;
      index = f.index;
      if (drag.kind === 'move') {
        const s = findBlock(drag.id);
        if (s && (s.parent ? s.parent.id : null) === pid && s.index < f.index) index = f.index + 1;
      }
    }
  } else {
    const list = el.closest('.tree-list');
    if (!list || !tree.contains(list)) return null;
    parentId = list === tree ? null : list.dataset.parentId;
    const nodes = [...list.children].filter((c) => c.matches('[data-testid="tree-node"]'));
    index = nodes.length;
    for (let i = 0; i < nodes.length; i++) {
      const r = nodes[i].getBoundingClientRect();
      if (e.clientY < r.top + r.height / 2) {
        index = i;
        break;
      }
    }
  }
  if (parentId != null) {
    const p = findBlock(parentId);
    if (!p || !isContainer(p.block)) return null;
  }
  if (drag.kind === 'move') {
    if (!findBlock(drag.id)) return null;
    if (drag.id === parentId || (parentId != null && isDescendant(parentId, drag.id))) return null;
  }
  return { parentId, index };
}

function clearDropIndicator() {
  state.dropKey = null;
  for (const el of document.querySelectorAll('#page-tree.drop-target, #page-tree .drop-before, #page-tree .drop-after, #page-tree .drop-target, #page-tree .drop-empty')) {
    el.classList.remove('drop-before', 'drop-after', 'drop-target', 'drop-empty');
  }
}

function showDropIndicator(target) {
  const key = `${target.parentId}|${target.index}`;
  if (state.dropKey === key) return;
  clearDropIndicator();
  state.dropKey = key;
  const tree = $('#page-tree');
  const list = target.parentId == null ? tree : tree.querySelector(`.tree-children[data-parent-id=${attrValue(target.parentId)}]`);
  if (!list) return;
  list.classList.add('drop-target');
  const nodes = [...list.children].filter((c) => c.matches('[data-testid="tree-node"]'));
  if (!nodes.length) list.classList.add('drop-empty');
  else if (target.index < nodes.length) nodes[target.index].classList.add('drop-before');
  else nodes[nodes.length - 1].classList.add('drop-after');
}

function autoScroll(e) {
  const sc = $('#tree-scroll');
  const r = sc.getBoundingClientRect();
  if (e.clientY < r.top + 36) sc.scrollTop -= 14;
  else if (e.clientY > r.bottom - 36) sc.scrollTop += 14;
}

function onTreeDragOver(e) {
  const drag = dragFromEvent(e);
  if (!drag) return;
  const target = computeDrop(e, drag);
  autoScroll(e);
  if (!target) {
    clearDropIndicator();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'none';
    return;
  }
  e.preventDefault();
  if (e.dataTransfer) e.dataTransfer.dropEffect = drag.kind === 'move' ? 'move' : 'copy';
  showDropIndicator(target);
}

function onTreeDragLeave(e) {
  const tree = $('#tree-scroll');
  if (!e.relatedTarget || !tree.contains(e.relatedTarget)) clearDropIndicator();
}

function onTreeDrop(e) {
  const drag = dragFromEvent(e);
  if (!drag || drag.kind === 'unknown') return;
  e.preventDefault();
  const target = computeDrop(e, drag);
  endDrag();
  if (!target) return;
  if (drag.kind === 'new') insertBlock(drag.type, target.parentId, target.index);
  else if (moveBlock(drag.id, target.parentId, target.index)) {
    if (state.selectedId !== drag.id) selectBlock(drag.id);
  }
}

function endDrag() {
  clearDropIndicator();
  state.drag = null;
  document.body.classList.remove('is-dragging');
  for (const el of document.querySelectorAll('.dragging')) el.classList.remove('dragging');
}

// ---------------------------------------------------------------------------------------------
// Rendering: the props form (generated from the selected block's schema)

function fieldLabel(schema, key) {
  const ed = (isObj(schema) && schema['x-editor']) || {};
  return loc(ed.label, '') || (isObj(schema) && schema.title) || String(key);
}

function fieldHelp(schema) {
  const ed = (isObj(schema) && schema['x-editor']) || {};
  return loc(ed.help, '') || loc(ed.description, '') || (isObj(schema) && typeof schema.description === 'string' ? schema.description : '');
}

function orderedKeys(props) {
  const keys = Object.keys(props);
  const order = (k) => {
    const ed = isObj(props[k]) && props[k]['x-editor'];
    return ed && typeof ed.order === 'number' ? ed.order : 1e9;
  };
  return keys.map((k, i) => [k, i]).sort((a, b) => order(a[0]) - order(b[0]) || a[1] - b[1]).map((x) => x[0]);
}

function enumLabel(schema, value) {
  const ed = (isObj(schema) && schema['x-editor']) || {};
  if (isObj(ed.options) && ed.options[value] !== undefined) return loc(ed.options[value], String(value));
  if (Array.isArray(ed.options)) {
    const o = ed.options.find((x) => isObj(x) && x.value === value);
    if (o) return loc(o.label, String(value));
  }
  if (Array.isArray(ed.enum_labels) && Array.isArray(schema.enum)) {
    const i = schema.enum.indexOf(value);
    if (i >= 0 && ed.enum_labels[i] !== undefined) return loc(ed.enum_labels[i], String(value));
  }
  return String(value);
}

function enumOf(schema) {
  if (!isObj(schema)) return null;
  if (Array.isArray(schema.enum)) return schema.enum;
  if (isObj(schema.items) && Array.isArray(schema.items.enum)) return schema.items.enum;
  if (Array.isArray(schema.oneOf) && schema.oneOf.every((s) => isObj(s) && 'const' in s)) return schema.oneOf.map((s) => s.const);
  return null;
}

// Codes for model/store inputs without an enum: every enum of such widgets in the library, plus
// the codes already used in the page.
function knownCodes(widget) {
  const codes = new Set();
  const wanted = widget === 'store' ? ['store'] : ['model', 'models'];
  const scan = (schema) => {
    if (!isObj(schema)) return;
    const w = schema['x-editor'] && schema['x-editor'].widget;
    if (wanted.includes(w)) for (const c of enumOf(schema) || []) codes.add(String(c));
    for (const p of Object.values(schema.properties || {})) scan(p);
    if (isObj(schema.items)) scan(schema.items);
  };
  for (const def of state.blockDefs.values()) scan(def.schema);
  if (state.doc) {
    walk(state.doc.blocks, (b) => {
      const def = defOf(b);
      if (!def || !isObj(b.props)) return;
      const visit = (schema, v) => {
        if (!isObj(schema) || v === undefined) return;
        const w = schema['x-editor'] && schema['x-editor'].widget;
        if (wanted.includes(w)) {
          if (typeof v === 'string' && v) codes.add(v);
          if (Array.isArray(v)) v.forEach((x) => typeof x === 'string' && x && codes.add(x));
          return;
        }
        if (isObj(v)) for (const [k, s] of Object.entries(schema.properties || {})) visit(s, v[k]);
        if (Array.isArray(v) && isObj(schema.items)) v.forEach((x) => visit(schema.items, x));
      };
      visit(def.schema, b.props);
    });
  }
  return [...codes].sort();
}

function renderForm({ preserveFocus = false } = {}) {
  const form = $('#props-form');
  const head = $('#inspector-head');
  const channels = $('#channels');
  // Remember focus and caret inside the form to restore them after the rebuild.
  let focusName = null;
  let focusSel = null;
  const active = document.activeElement;
  if (preserveFocus && active && (form.contains(active) || head.contains(active) || channels.contains(active))) {
    focusName = active.getAttribute('name') || active.getAttribute('data-focus-key');
    try {
      focusSel = typeof active.selectionStart === 'number' ? [active.selectionStart, active.selectionEnd] : null;
    } catch {
      focusSel = null;
    }
  }
  form.replaceChildren();
  head.replaceChildren();
  $('#channels-boxes').replaceChildren();
  state.formFields = new Set();
  state.errorSlots = new Map();
  state.controls = new Map();
  const found = state.selectedId ? findBlock(state.selectedId) : null;
  $('#inspector-empty').hidden = Boolean(found);
  form.hidden = !found;
  head.hidden = !found;
  channels.hidden = !found;
  if (!found) {
    form.removeAttribute('data-block-id');
    return;
  }
  const block = found.block;
  const def = defOf(block);
  form.dataset.blockId = block.id;
  form.dataset.blockType = block.type;

  // Header: icon, label, type, id.
  const idInput = h('input', {
    id: 'block-id',
    type: 'text',
    class: 'input input-mono',
    'data-focus-key': '@id',
    autocomplete: 'off',
    spellcheck: 'false',
    value: block.id,
    'aria-describedby': 'block-id-help block-id-errors',
  });
  const idSlot = h('div', { class: 'field-errors', id: 'block-id-errors' });
  state.errorSlots.set('@id', idSlot);
  state.controls.set('@id', idInput);
  idInput.addEventListener('change', () => renameBlock(block.id, idInput));
  idInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      renameBlock(block.id, idInput);
    }
  });
  const typeSlot = h('div', { class: 'field-errors' });
  state.errorSlots.set('@type', typeSlot);
  const blockSlot = h('div', { class: 'field-errors block-errors' });
  state.errorSlots.set('@block', blockSlot);
  append(head, 
    h(
      'div',
      { class: 'inspector-title' },
      h('span', { class: 'inspector-icon', 'aria-hidden': 'true' }, def ? def.icon || '▫' : '?'),
      h('span', { class: 'inspector-name' }, def ? loc(def.label, block.type) : block.type),
      h('code', { class: 'inspector-type' }, block.type),
    ),
    def && def.per_request ? h('p', { class: 'note' }, t('inspector.perRequest')) : null,
    def && def.container ? h('p', { class: 'help' }, t('inspector.container')) : null,
    h(
      'div',
      { class: 'field field-inline' },
      h('label', { for: 'block-id' }, t('inspector.id')),
      idInput,
      h('p', { class: 'help', id: 'block-id-help' }, t('inspector.idHelp')),
      idSlot,
    ),
    typeSlot,
    blockSlot,
  );

  if (!def) {
    append(form, h('p', { class: 'empty-state' }, t('inspector.unknownType')));
  } else {
    const schema = isObj(def.schema) ? def.schema : {};
    const props = isObj(schema.properties) ? schema.properties : {};
    if (!Object.keys(props).length) append(form, h('p', { class: 'empty-state' }, t('inspector.noProps')));
    renderFields(form, schema, [], block.id);
  }

  // Channels.
  const boxes = $('#channels-boxes');
  const chSlot = $('#channels-errors');
  chSlot.replaceChildren();
  state.errorSlots.set('@channels', chSlot);
  for (const c of CHANNELS) {
    const id = nextId('ch');
    const box = h('input', {
      id,
      type: 'checkbox',
      name: 'channel',
      value: c,
      'data-testid': `channel-${c}`,
      'data-focus-key': `@channel-${c}`,
      checked: !Array.isArray(block.channels) || block.channels.includes(c),
    });
    box.addEventListener('change', () => {
      const checked = [...boxes.querySelectorAll('input[name="channel"]')].filter((x) => x.checked).map((x) => x.value);
      editBlock(block.id, '@channels', (b) => {
        if (checked.length === CHANNELS.length) delete b.channels;
        else b.channels = checked;
      }, { coalesce: false });
    });
    append(boxes, h('label', { class: 'check', for: id }, box, h('span', null, t(`channels.${c}`))));
  }
  state.controls.set('@channels', boxes.querySelector('input'));

  updateFormErrors();
  if (focusName) {
    const el = form.querySelector(`[name=${attrValue(focusName)}]`) ||
      head.querySelector(`[data-focus-key=${attrValue(focusName)}]`) ||
      channels.querySelector(`[data-focus-key=${attrValue(focusName)}]`) ||
      form.querySelector(`[data-focus-key=${attrValue(focusName)}]`);
    if (el) {
      el.focus();
      if (focusSel && typeof el.setSelectionRange === 'function') {
        try {
          el.setSelectionRange(focusSel[0], focusSel[1]);
        } catch {
          /* not a text control */
        }
      }
    }
  }
}

function renameBlock(oldId, input) {
  const next = input.value.trim();
  if (next === oldId) {
    setInputError(oldId, '@id', null);
    afterChange();
    return;
  }
  let msg = null;
  if (!BLOCK_ID_RE.test(next)) msg = t('v.blockId');
  else if (allIds().has(next)) msg = t('v.blockIdTaken');
  if (msg) {
    setInputError(oldId, '@id', msg);
    afterChange();
    return;
  }
  setInputError(oldId, '@id', null);
  const f = findBlock(oldId);
  if (!f) return;
  pushUndo(null);
  f.block.id = next;
  if (state.selectedId === oldId) state.selectedId = next;
  for (const e of state.serverErrors) if (e.owner === oldId) e.owner = next;
  for (const [key, m] of [...state.inputErrors]) {
    if (key.startsWith(`${oldId}|`)) {
      state.inputErrors.delete(key);
      state.inputErrors.set(`${next}|${key.slice(oldId.length + 1)}`, m);
    }
  }
  clearServerErrors(next, '@id');
  afterChange({ structural: true });
}

function renderFields(container, objSchema, basePath, blockId) {
  const props = isObj(objSchema.properties) ? objSchema.properties : {};
  const required = new Set(Array.isArray(objSchema.required) ? objSchema.required : []);
  for (const key of orderedKeys(props)) {
    if (!isObj(props[key])) continue;
    const ed = props[key]['x-editor'];
    if (ed && ed.hidden === true) continue;
    append(container, renderField({ schema: props[key], path: [...basePath, key], required: required.has(key), blockId }));
  }
}

// Current props of the block (looked up at event time: the block object may be replaced).
const propsOf = (blockId) => {
  const f = findBlock(blockId);
  return f ? f.block.props : undefined;
};

function setProp(blockId, path, value, opts) {
  const field = path.join('.');
  editBlock(blockId, field, (b) => {
    if (!isObj(b.props)) b.props = {};
    if (value === undefined && Array.isArray(getAt(b.props, path.slice(0, -1)))) setAt(b.props, path, '');
    else if (value === undefined) deleteAt(b.props, path);
    else setAt(b.props, path, value);
  }, opts);
}

function renderField(ctx) {
  const { schema, path, required, blockId } = ctx;
  const name = path.join('.');
  const widget = widgetOf(schema);
  const id = nextId('f');
  const helpId = `${id}-help`;
  const errId = `${id}-err`;
  const label = fieldLabel(schema, path[path.length - 1]);
  const help = fieldHelp(schema);
  const value = getAt(propsOf(blockId), path);
  state.formFields.add(name);
  const wrap = h('div', { class: `field field-${widget}`, 'data-field': name });
  const slot = h('div', { class: 'field-errors', id: errId });
  state.errorSlots.set(name, slot);
  const describedBy = [help ? helpId : null, errId].filter(Boolean).join(' ');
  const labelEl = (forId) => h('label', { for: forId, class: 'field-label' }, label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null);
  const helpEl = (text = help) => (text ? h('p', { class: 'help', id: helpId }, text) : null);
  const reg = (el) => {
    state.controls.set(name, el);
    el.setAttribute('aria-describedby', describedBy);
    if (required) el.setAttribute('aria-required', 'true');
    return el;
  };
  const ownerField = (msg) => setInputError(blockId, name, msg);

  if (widget === 'list') {
    return renderListField(ctx, wrap, { label, help, helpId, slot, required, id });
  }

  if (widget === 'checkbox') {
    const box = reg(h('input', { id, type: 'checkbox', name, checked: value === true, class: 'checkbox' }));
    box.addEventListener('change', () => setProp(blockId, path, box.checked, { coalesce: false }));
    append(wrap, h('div', { class: 'check' }, box, labelEl(id)), helpEl(), slot);
    return wrap;
  }

  const enumValues = enumOf(schema);
  if ((widget === 'select' || widget === 'model' || widget === 'store') && enumValues && !Array.isArray(value)) {
    const sel = reg(h('select', { id, name, class: 'input' }));
    append(sel, h('option', { value: '' }, t('select.none')));
    let matched = false;
    for (const v of enumValues) {
      const opt = h('option', { value: String(v) }, enumLabel(schema, v));
      if (value !== undefined && deepEqual(v, value)) {
        opt.selected = true;
        matched = true;
      }
      append(sel, opt);
    }
    if (value !== undefined && !matched) append(sel, h('option', { value: `__current__`, selected: true }, `${String(value)} ⚠`));
    if (value === undefined) sel.value = '';
    sel.addEventListener('change', () => {
      if (sel.value === '__current__') return;
      const v = sel.value === '' ? undefined : enumValues.find((x) => String(x) === sel.value);
      setProp(blockId, path, v, { coalesce: false });
    });
    append(wrap, labelEl(id), helpEl(), sel, slot);
    return wrap;
  }

  if (widget === 'number' || widget === 'money') {
    const isMoney = widget === 'money';
    const integer = typeList(schema).includes('integer') || isMoney;
    const input = reg(
      isMoney
        ? h('input', { id, name, type: 'text', inputmode: 'decimal', class: 'input input-num', autocomplete: 'off', value: typeof value === 'number' ? minorToMajor(value) : '' })
        : h('input', {
          id, name, type: 'number', class: 'input input-num',
          step: integer ? '1' : 'any',
          min: typeof schema.minimum === 'number' ? schema.minimum : null,
          max: typeof schema.maximum === 'number' ? schema.maximum : null,
          value: typeof value === 'number' ? String(value) : '',
        }),
    );
    input.addEventListener('input', () => {
      const raw = input.value.trim();
      if (isMoney) {
        if (raw === '') {
          ownerField(null);
          setProp(blockId, path, undefined);
          return;
        }
        const minor = majorToMinor(raw);
        if (minor === null) {
          ownerField(t('v.money'));
          afterChange();
          return;
        }
        ownerField(null);
        setProp(blockId, path, minor);
        return;
      }
      if (input.validity && input.validity.badInput) {
        ownerField(t('v.number'));
        afterChange();
        return;
      }
      if (raw === '') {
        ownerField(null);
        setProp(blockId, path, undefined);
        return;
      }
      const n = Number(raw);
      if (!Number.isFinite(n)) {
        ownerField(t('v.number'));
        afterChange();
        return;
      }
      ownerField(null);
      setProp(blockId, path, n);
    });
    if (isMoney) {
      input.addEventListener('blur', () => {
        const v = getAt(propsOf(blockId), path);
        if (typeof v === 'number' && !state.inputErrors.has(`${blockId}|${name}`)) input.value = minorToMajor(v);
      });
    }
    const helpText = isMoney ? [help, t('money.help')].filter(Boolean).join(' · ') : help;
    append(wrap, labelEl(id), helpEl(helpText), input, slot);
    return wrap;
  }

  if (widget === 'datetime') {
    const parsed = rfcToLocal(typeof value === 'string' ? value : '');
    const input = reg(h('input', { id, name, type: 'datetime-local', class: 'input', step: parsed.seconds ? '1' : null, value: parsed.local }));
    const tz = h('p', { class: 'help help-tz' });
    const showTz = (v) => {
      const p = rfcToLocal(v || '');
      tz.textContent = p.offset ? t('datetime.tz', { off: p.offset === 'Z' ? '+00:00' : p.offset, v }) : t('datetime.tzNew', { off: browserOffset(new Date()) });
    };
    showTz(typeof value === 'string' ? value : '');
    input.addEventListener('input', () => {
      if (input.validity && input.validity.badInput) {
        ownerField(t('v.datetime'));
        afterChange();
        return;
      }
      ownerField(null);
      if (!input.value) {
        setProp(blockId, path, undefined);
        showTz('');
        return;
      }
      const old = rfcToLocal(String(getAt(propsOf(blockId), path) || ''));
      const v = localToRfc(input.value, old.offset);
      setProp(blockId, path, v);
      showTz(v);
    });
    append(wrap, labelEl(id), helpEl(), input, tz, slot);
    if (typeof value === 'string' && value && !parsed.local) {
      // A stored value the control can't show: keep it visible.
      append(wrap, h('p', { class: 'help' }, value));
    }
    return wrap;
  }

  if (widget === 'models' || widget === 'codes' || (Array.isArray(value) && widget !== 'json')) {
    return renderCodesField(ctx, wrap, { id, label, help, helpId, slot, labelEl, reg, widget });
  }

  if (widget === 'json') {
    const ta = reg(h('textarea', { id, name, class: 'input input-mono', rows: '4', spellcheck: 'false' }));
    ta.value = value === undefined ? '' : JSON.stringify(value, null, 2);
    ta.addEventListener('input', () => {
      if (!ta.value.trim()) {
        ownerField(null);
        setProp(blockId, path, undefined);
        return;
      }
      try {
        const v = JSON.parse(ta.value);
        ownerField(null);
        setProp(blockId, path, v);
      } catch {
        ownerField(t('v.json'));
        afterChange();
      }
    });
    append(wrap, labelEl(id), helpEl([help, t('json.help')].filter(Boolean).join(' ')), ta, slot);
    return wrap;
  }

  // Text-like widgets.
  const multi = widget === 'textarea' || widget === 'richtext';
  const attrs = { id, name, class: `input${widget === 'richtext' ? ' input-mono' : ''}`, autocomplete: 'off' };
  let control;
  if (multi) {
    control = h('textarea', { ...attrs, rows: widget === 'richtext' ? '8' : '4' });
  } else {
    const inputType = 'text';
    control = h('input', { ...attrs, type: inputType, inputmode: widget === 'url' || widget === 'image' ? 'url' : null, spellcheck: widget === 'url' || widget === 'image' || widget === 'model' || widget === 'store' ? 'false' : null });
  }
  reg(control);
  control.value = typeof value === 'string' ? value : value === undefined ? '' : String(value);
  const nonString = value !== undefined && typeof value !== 'string';
  let datalist = null;
  if (widget === 'model' || widget === 'store') {
    const codes = knownCodes(widget);
    if (codes.length) {
      datalist = h('datalist', { id: `${id}-list` }, codes.map((c) => h('option', { value: c })));
      control.setAttribute('list', `${id}-list`);
    }
  }
  const counter = typeof schema.maxLength === 'number' ? h('span', { class: 'counter', 'aria-hidden': 'true' }) : null;
  const updateCounter = () => {
    if (!counter) return;
    const n = [...control.value].length;
    counter.textContent = t('counter', { n, max: schema.maxLength });
    counter.classList.toggle('over', n > schema.maxLength);
  };
  updateCounter();
  let thumb = null;
  const updateThumb = () => {
    if (!thumb) return;
    const v = control.value.trim();
    const ok = /^(https?:\/\/|\/)[^\s]*$/i.test(v);
    thumb.hidden = !ok;
    if (ok && thumb.getAttribute('src') !== v) thumb.setAttribute('src', v);
  };
  if (widget === 'image') {
    thumb = h('img', { class: 'thumb', alt: t('image.alt'), hidden: true, loading: 'lazy', referrerpolicy: 'no-referrer' });
    thumb.addEventListener('error', () => {
      thumb.hidden = true;
    });
  }
  const debouncedThumb = debounce(updateThumb, 500);
  control.addEventListener('input', () => {
    updateCounter();
    if (thumb) debouncedThumb();
    const v = control.value;
    setProp(blockId, path, v === '' ? undefined : nonString && typeof value === 'number' && Number.isFinite(Number(v)) ? Number(v) : v);
  });
  const labelRow = h('div', { class: 'label-row' }, labelEl(id), counter);
  append(wrap, labelRow, helpEl(widget === 'richtext' ? [help, t('rt.help')].filter(Boolean).join(' ') : help));
  if (widget === 'richtext') append(wrap, richTextToolbar(control));
  append(wrap, control);
  if (datalist) append(wrap, datalist);
  if (thumb) {
    append(wrap, thumb);
    updateThumb();
  }
  append(wrap, slot);
  return wrap;
}

function richTextToolbar(ta) {
  const wrapSel = (open, close, placeholder) => () => {
    const s = ta.selectionStart ?? ta.value.length;
    const e = ta.selectionEnd ?? s;
    const inner = ta.value.slice(s, e) || placeholder;
    ta.setRangeText(`${open}${inner}${close}`, s, e, 'end');
    ta.focus();
    ta.setSelectionRange(s + open.length, s + open.length + inner.length);
    ta.dispatchEvent(new Event('input', { bubbles: true }));
  };
  const tools = [
    ['rt.bold', 'B', '<strong>', '</strong>', 'text'],
    ['rt.italic', 'I', '<em>', '</em>', 'text'],
    ['rt.h2', 'H2', '<h2>', '</h2>', 'Heading'],
    ['rt.p', '¶', '<p>', '</p>', 'Paragraph'],
    ['rt.ul', '•', '<ul>\n  <li>', '</li>\n</ul>', 'Item'],
    ['rt.link', '‹a›', '<a href="https://">', '</a>', 'link'],
  ];
  const bar = h('div', { class: 'rt-toolbar', role: 'toolbar', 'aria-label': t('rt.toolbar') });
  for (const [key, glyph, open, close, ph] of tools) {
    append(bar, h('button', { type: 'button', class: 'icon-btn', title: t(key), 'aria-label': t(key), onclick: wrapSel(open, close, ph) }, glyph));
  }
  return bar;
}

// `models` (and any array of codes): one text control with the codes separated by commas, plus
// quick toggles for the codes the schema knows.
function renderCodesField(ctx, wrap, { id, help, helpId, slot, labelEl, reg }) {
  const { schema, path, blockId } = ctx;
  const name = path.join('.');
  const value = getAt(propsOf(blockId), path);
  const input = reg(h('input', { id, name, type: 'text', class: 'input input-mono', autocomplete: 'off', spellcheck: 'false' }));
  input.value = Array.isArray(value) ? value.join(', ') : '';
  const parse = (s) => s.split(/[\s,，、]+/).map((x) => x.trim()).filter(Boolean);
  const itemsSchema = isObj(schema.items) ? schema.items : {};
  const numeric = typeList(itemsSchema).some((x) => x === 'integer' || x === 'number');
  const commit = (codes) => {
    const v = numeric ? codes.map((c) => (Number.isFinite(Number(c)) ? Number(c) : c)) : codes;
    setProp(blockId, path, v.length || ctx.required ? v : undefined);
  };
  const known = enumOf(schema) || [];
  const chips = known.length ? h('div', { class: 'chips', role: 'group', 'aria-label': fieldLabel(schema, path[path.length - 1]) }) : null;
  const syncChips = () => {
    if (!chips) return;
    const current = new Set(parse(input.value));
    for (const b of chips.querySelectorAll('button')) b.setAttribute('aria-pressed', current.has(b.dataset.code) ? 'true' : 'false');
  };
  for (const code of known) {
    const b = h('button', { type: 'button', class: 'chip', 'data-code': String(code), title: t('codes.pick', { code }) }, enumLabel(itemsSchema, code));
    b.addEventListener('click', () => {
      const codes = parse(input.value);
      const i = codes.indexOf(String(code));
      if (i >= 0) codes.splice(i, 1);
      else codes.push(String(code));
      input.value = codes.join(', ');
      syncChips();
      commit(codes);
    });
    append(chips, b);
  }
  syncChips();
  input.addEventListener('input', () => {
    syncChips();
    commit(parse(input.value));
  });
  const helpText = [help, t('codes.help')].filter(Boolean).join(' ');
  append(wrap, labelEl(id), h('p', { class: 'help', id: helpId }, helpText), input, chips, slot);
  input.setAttribute('aria-describedby', `${helpId} ${slot.id}`);
  return wrap;
}

// `list`: a repeatable sub-form per item, with add / move / remove.
function renderListField(ctx, wrap, { label, help, helpId, slot, required }) {
  const { schema, path, blockId } = ctx;
  const name = path.join('.');
  const items = getAt(propsOf(blockId), path);
  const arr = Array.isArray(items) ? items : [];
  const itemSchema = isObj(schema.items) ? schema.items : {};
  const objectItems = itemSchema.type === 'object' || isObj(itemSchema.properties);
  const max = typeof schema.maxItems === 'number' ? schema.maxItems : Infinity;
  const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
  const legendId = nextId('lg');
  const fs = h('fieldset', { class: 'list-field', name, 'aria-describedby': [help ? helpId : null, slot.id].filter(Boolean).join(' ') });
  append(fs, 
    h('legend', { id: legendId, class: 'field-label' }, label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null,
      max !== Infinity ? h('span', { class: 'counter' }, ` ${t('list.count', { n: arr.length, max })}`) : null),
  );
  if (help) append(fs, h('p', { class: 'help', id: helpId }, help));
  const ol = h('ol', { class: 'list-items' });
  const mutateList = (fn, focusKey) => {
    state.pendingFocus = focusKey;
    editBlock(blockId, name, (b) => {
      if (!isObj(b.props)) b.props = {};
      let list = getAt(b.props, path);
      if (!Array.isArray(list)) {
        list = [];
        setAt(b.props, path, list);
      }
      fn(list);
    }, { structural: true, coalesce: false });
    const key = state.pendingFocus;
    state.pendingFocus = null;
    if (key) {
      const el = $('#props-form').querySelector(`[data-focus-key=${attrValue(key)}]`) || $('#props-form').querySelector(`[name=${attrValue(key)}]`);
      if (el) el.focus();
    }
  };
  arr.forEach((item, i) => {
    const n = i + 1;
    const itemPath = [...path, i];
    const itemName = itemPath.join('.');
    state.formFields.add(itemName);
    const itemSlot = h('div', { class: 'field-errors', id: nextId('ie') });
    state.errorSlots.set(itemName, itemSlot);
    const head = h(
      'div',
      { class: 'list-item-head' },
      h('span', { class: 'list-item-title' }, t('list.item', { n }), itemTitle(item)),
      h('span', { class: 'list-item-actions' },
        h('button', {
          type: 'button', class: 'icon-btn', 'data-testid': 'list-up', 'data-focus-key': `${itemName}:up`,
          'aria-label': `${label}: ${t('list.up', { n })}`, title: t('list.up', { n }), disabled: i === 0,
          onclick: () => mutateList((list) => list.splice(i - 1, 0, list.splice(i, 1)[0]), i - 1 === 0 ? `${[...path, i - 1].join('.')}:down` : `${[...path, i - 1].join('.')}:up`),
        }, '↑'),
        h('button', {
          type: 'button', class: 'icon-btn', 'data-testid': 'list-down', 'data-focus-key': `${itemName}:down`,
          'aria-label': `${label}: ${t('list.down', { n })}`, title: t('list.down', { n }), disabled: i === arr.length - 1,
          onclick: () => mutateList((list) => list.splice(i + 1, 0, list.splice(i, 1)[0]), i + 1 === arr.length - 1 ? `${[...path, i + 1].join('.')}:up` : `${[...path, i + 1].join('.')}:down`),
        }, '↓'),
        h('button', {
          type: 'button', class: 'icon-btn icon-btn-danger', 'data-testid': 'list-remove', 'data-focus-key': `${itemName}:remove`,
          'aria-label': `${label}: ${t('list.remove', { n })}`, title: t('list.remove', { n }), disabled: arr.length <= min && min > 0 ? true : null,
          onclick: () => mutateList((list) => list.splice(i, 1), `${name}:add`),
        }, '✕')),
    );
    const li = h('li', { class: 'list-item', 'data-index': i }, head);
    if (objectItems) {
      const body = h('div', { class: 'list-item-body' });
      renderFields(body, itemSchema, itemPath, blockId);
      append(li, body);
    } else {
      append(li, renderField({ schema: itemSchema, path: itemPath, required: true, blockId }));
    }
    append(li, itemSlot);
    append(ol, li);
  });
  if (!arr.length) append(ol, h('li', { class: 'list-empty' }, t('list.empty')));
  const add = h('button', {
    type: 'button', class: 'btn btn-small btn-secondary list-add', 'data-testid': 'list-add', 'data-focus-key': `${name}:add`,
    disabled: arr.length >= max, 'aria-label': `${label}: ${t('list.add')}`,
  }, `+ ${t('list.add')}`);
  add.addEventListener('click', () => {
    const fresh = objectItems ? defaultsFor(itemSchema) : defaultsFor(itemSchema) ?? '';
    const idx = arr.length;
    mutateList((list) => list.push(fresh), null);
    const first = $('#props-form').querySelector(`[name^=${attrValue(`${name}.${idx}`)}]`);
    if (first) first.focus();
  });
  append(fs, ol, add, slot);
  state.controls.set(name, add);
  append(wrap, fs);
  return wrap;
}

function itemTitle(item) {
  if (!isObj(item)) return typeof item === 'string' && item ? ` · ${item.slice(0, 40)}` : '';
  for (const k of SUMMARY_KEYS) if (typeof item[k] === 'string' && item[k].trim()) return ` · ${item[k].replace(/<[^>]*>/g, '').slice(0, 40)}`;
  return '';
}

function defaultsFor(schema) {
  if (!isObj(schema)) return undefined;
  if (schema.default !== undefined) return clone(schema.default);
  if (schema.type === 'object' || isObj(schema.properties)) {
    const o = {};
    for (const [k, p] of Object.entries(schema.properties || {})) {
      const d = defaultsFor(p);
      if (d !== undefined) o[k] = d;
      else if (isObj(p) && Array.isArray(schema.required) && schema.required.includes(k) && p.type === 'boolean') o[k] = false;
    }
    return o;
  }
  return undefined;
}

// Shows the errors of the selected block next to their fields.
function updateFormErrors() {
  for (const slot of state.errorSlots.values()) slot.replaceChildren();
  for (const el of state.controls.values()) el.removeAttribute('aria-invalid');
  for (const el of document.querySelectorAll('#props-form .field.has-error')) el.classList.remove('has-error');
  const id = state.selectedId;
  if (!id || !findBlock(id)) return;
  for (const e of errorsOf(id)) {
    const target = resolveFormField(e.field);
    const slot = state.errorSlots.get(target) || state.errorSlots.get('@block');
    if (!slot) continue;
    const special = target.startsWith('@');
    append(slot, h('p', {
      class: 'field-error',
      'data-testid': special ? 'block-error' : 'prop-error',
      'data-prop': target,
      'data-source': e.source || 'client',
    }, h('span', { 'aria-hidden': 'true' }, '⚠ '), e.message));
    const ctl = state.controls.get(target);
    if (ctl) ctl.setAttribute('aria-invalid', 'true');
    const wrap = slot.closest('.field');
    if (wrap) wrap.classList.add('has-error');
  }
}

// The rendered field an error belongs to: the field itself, else its nearest rendered parent.
function resolveFormField(field) {
  if (field.startsWith('@')) return field;
  let f = field;
  while (f) {
    if (state.formFields.has(f)) return f;
    const dot = f.lastIndexOf('.');
    f = dot < 0 ? '' : f.slice(0, dot);
  }
  return '@block';
}

// ---------------------------------------------------------------------------------------------
// Value conversions

function minorToMajor(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  const neg = n < 0;
  const s = String(Math.abs(Math.trunc(n))).padStart(3, '0');
  return `${neg ? '-' : ''}${s.slice(0, -2)}.${s.slice(-2)}`;
}

function majorToMinor(str) {
  const s = String(str).replace(/[\s,_']/g, '').replace(/^[^\d.+-]+/, '').replace(/[^\d.]+$/, '');
  const m = /^([+-])?(\d*)(?:\.(\d{0,2}))?$/.exec(s);
  if (!m || (m[2] === '' && (m[3] === undefined || m[3] === ''))) return null;
  const v = Number(m[2] || '0') * 100 + Number((m[3] || '').padEnd(2, '0'));
  if (!Number.isSafeInteger(v)) return null;
  return m[1] === '-' ? -v : v;
}

function browserOffset(date) {
  const mins = -date.getTimezoneOffset();
  const sign = mins >= 0 ? '+' : '-';
  const a = Math.abs(mins);
  return `${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

// RFC 3339 -> {local: 'YYYY-MM-DDTHH:MM[:SS]', offset: 'Z' | '+08:00' | null, seconds}
function rfcToLocal(v) {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2})(?::(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/.exec(v || '');
  if (!m) return { local: '', offset: null, seconds: false };
  const seconds = Boolean(m[3] && m[3] !== '00');
  let offset = m[5] || null;
  if (offset === 'z') offset = 'Z';
  if (offset && offset !== 'Z' && !offset.includes(':')) offset = `${offset.slice(0, 3)}:${offset.slice(3)}`;
  return { local: `${m[1]}T${m[2]}${seconds ? `:${m[3]}` : ''}`, offset, seconds };
}

// 'YYYY-MM-DDTHH:MM[:SS[.sss]]' + offset (kept from the stored value, else the browser's) -> RFC 3339
function localToRfc(local, offset) {
  const base = local.length === 16 ? `${local}:00` : local.slice(0, 19);
  const off = offset || browserOffset(new Date(base));
  return `${base}${off === '+00:00' && !offset ? 'Z' : off}`;
}

// ---------------------------------------------------------------------------------------------
// Page settings form

function renderPageForm({ preserveFocus = false } = {}) {
  const form = $('#page-form');
  let focusName = null;
  const active = document.activeElement;
  if (preserveFocus && active && form.contains(active)) focusName = active.getAttribute('name');
  form.replaceChildren();
  state.pageSlots = new Map();
  state.pageControls = new Map();
  const doc = state.doc;
  if (!doc) {
    append(form, h('p', { class: 'empty-state' }, t('tree.noPage')));
    return;
  }
  const slotFor = (field) => {
    const slot = h('div', { class: 'field-errors', id: nextId('pe') });
    state.pageSlots.set(field, slot);
    return slot;
  };
  const pageSlot = slotFor('@page');
  append(form, pageSlot);
  append(form, h('div', { class: 'field field-readonly' }, h('span', { class: 'field-label' }, t('page.id')), h('code', { class: 'page-id' }, doc.id || '')));

  const text = (field, labelText, value, onInput, opts = {}) => {
    const id = nextId('pf');
    const helpId = `${id}-help`;
    const slot = slotFor(field);
    const control = opts.multiline
      ? h('textarea', { id, name: field, class: 'input', rows: '3' })
      : h('input', { id, name: field, type: opts.type || 'text', class: `input${opts.mono ? ' input-mono' : ''}`, autocomplete: 'off', inputmode: opts.inputmode || null, min: opts.min ?? null, step: opts.step ?? null, spellcheck: opts.mono ? 'false' : null });
    control.value = value ?? '';
    control.setAttribute('aria-describedby', [opts.help ? helpId : null, slot.id].filter(Boolean).join(' '));
    control.addEventListener('input', () => onInput(control));
    state.pageControls.set(field, control);
    return h('div', { class: 'field', 'data-field': field },
      h('label', { for: id, class: 'field-label' }, labelText),
      opts.help ? h('p', { class: 'help', id: helpId }, opts.help) : null,
      control, slot);
  };

  append(form, text('route', t('page.route'), doc.route, (c) => editPage('route', (d) => {
    d.route = c.value.trim();
  }), { mono: true, help: t('page.routeHelp') }));

  append(form, text('nav', t('page.nav'), doc.nav ?? '', (c) => {
    const raw = c.value.trim();
    if (c.validity && c.validity.badInput) {
      setInputError(PAGE, 'nav', t('v.nav'));
      afterChange();
      return;
    }
    setInputError(PAGE, 'nav', null);
    editPage('nav', (d) => {
      if (raw === '') delete d.nav;
      else d.nav = Number(raw);
    });
  }, { type: 'number', min: 0, step: 1, help: t('page.navHelp') }));

  const locales = [...LOCALES, ...Object.keys(doc.meta || {}).filter((l) => !LOCALES.includes(l))];
  const metaGroup = h('div', { class: 'meta-group' }, h('h3', { class: 'subhead' }, t('page.meta')), slotFor('meta'));
  for (const l of locales) {
    const m = isObj(doc.meta[l]) ? doc.meta[l] : {};
    const setMeta = (key) => (c) => editPage(`meta.${l}.${key}`, (d) => {
      if (!isObj(d.meta)) d.meta = {};
      if (!isObj(d.meta[l])) d.meta[l] = {};
      if (c.value === '' && key !== 'title') delete d.meta[l][key];
      else d.meta[l][key] = c.value;
      if (Object.values(d.meta[l]).every((v) => v === '' || v === undefined)) delete d.meta[l];
    });
    const fs = h('fieldset', { class: 'meta-locale', 'data-locale': l },
      h('legend', null, STRINGS.en[`locale.${l}`] ? t(`locale.${l}`) : l),
      text(`meta.${l}.title`, t('page.metaTitle'), m.title, setMeta('title')),
      text(`meta.${l}.description`, t('page.metaDescription'), m.description, setMeta('description'), { multiline: true }),
      text(`meta.${l}.nav_label`, t('page.metaNavLabel'), m.nav_label, setMeta('nav_label'), { help: t('page.metaNavLabelHelp') }));
    append(metaGroup, fs);
  }
  append(form, metaGroup);
  updatePageFormErrors();
  if (focusName) {
    const el = form.querySelector(`[name=${attrValue(focusName)}]`);
    if (el) el.focus();
  }
}

function updatePageFormErrors() {
  for (const slot of state.pageSlots.values()) slot.replaceChildren();
  for (const el of state.pageControls.values()) el.removeAttribute('aria-invalid');
  if (!state.doc) return;
  for (const e of errorsOf(PAGE)) {
    let field = e.field;
    if (!state.pageSlots.has(field) && field.startsWith('meta.')) field = state.pageSlots.has(`${field.split('.').slice(0, 2).join('.')}.title`) ? `${field.split('.').slice(0, 2).join('.')}.title` : 'meta';
    const slot = state.pageSlots.get(field) || state.pageSlots.get('@page');
    if (!slot) continue;
    append(slot, h('p', { class: 'field-error', 'data-testid': 'page-error', 'data-field': field, 'data-source': e.source || 'client' }, h('span', { 'aria-hidden': 'true' }, '⚠ '), e.message));
    const ctl = state.pageControls.get(field);
    if (ctl) ctl.setAttribute('aria-invalid', 'true');
  }
}

// ---------------------------------------------------------------------------------------------
// Error summary

function describeField(owner, field) {
  if (owner === PAGE) {
    if (field === 'route') return t('page.route');
    if (field === 'nav') return t('page.nav');
    if (field === 'meta') return t('page.meta');
    const m = /^meta\.([^.]+)\.(\w+)$/.exec(field);
    if (m) {
      const key = { title: 'page.metaTitle', description: 'page.metaDescription', nav_label: 'page.metaNavLabel' }[m[2]];
      return `${key ? t(key) : m[2]} (${m[1]})`;
    }
    return '';
  }
  if (field === '@id') return t('inspector.id');
  if (field === '@channels') return t('channels.legend');
  if (field.startsWith('@')) return '';
  const f = findBlock(owner);
  const def = f && defOf(f.block);
  let schema = def && def.schema;
  const parts = [];
  for (const seg of field.split('.')) {
    if (!isObj(schema)) {
      parts.push(seg);
      continue;
    }
    if (/^\d+$/.test(seg)) {
      schema = schema.items;
      parts.push(`#${Number(seg) + 1}`);
    } else {
      schema = isObj(schema.properties) ? schema.properties[seg] : undefined;
      parts.push(fieldLabel(schema, seg));
    }
  }
  return parts.join(' › ');
}

function renderSummary() {
  const panel = $('#error-summary');
  const list = $('#error-summary-list');
  const errors = state.doc ? allErrors() : [];
  panel.hidden = !errors.length;
  list.replaceChildren();
  if (!errors.length) return;
  $('#error-summary-heading').textContent = errors.length === 1 ? t('summary.title1') : t('summary.title', { n: errors.length });
  for (const e of errors) {
    const f = e.owner === PAGE ? null : findBlock(e.owner);
    const where = e.owner === PAGE ? t('summary.page') : f ? blockName(f.block) : e.owner;
    const what = describeField(e.owner, e.field);
    const btn = h('button', { type: 'button', class: 'summary-link', 'data-owner': e.owner, 'data-field': e.field },
      h('span', { class: 'summary-where' }, what ? `${where} › ${what}` : where),
      h('span', { class: 'summary-msg' }, e.message));
    btn.addEventListener('click', () => focusError(e));
    append(list, h('li', { 'data-testid': 'error-summary-item', 'data-pointer': e.pointer || '' }, btn));
  }
}

function focusError(e) {
  if (e.owner === PAGE) {
    const ctl = state.pageControls.get(e.field) || state.pageControls.get(`${e.field.split('.').slice(0, 2).join('.')}.title`) || state.pageControls.get('route');
    if (ctl) {
      ctl.scrollIntoView({ block: 'center', behavior: 'smooth' });
      ctl.focus({ preventScroll: true });
    }
    return;
  }
  if (state.selectedId !== e.owner) selectBlock(e.owner);
  const target = resolveFormField(e.field);
  const ctl = state.controls.get(target) || (target === '@block' ? $('#block-id') : null);
  if (ctl) {
    ctl.scrollIntoView({ block: 'center', behavior: 'smooth' });
    ctl.focus({ preventScroll: true });
  } else {
    focusNode(e.owner);
  }
}

// ---------------------------------------------------------------------------------------------
// History

function renderHistory() {
  const ol = $('#history');
  ol.replaceChildren();
  const detail = state.detail;
  if (!state.doc || !detail) return;
  const versions = (Array.isArray(detail.versions) ? detail.versions : []).filter(isObj).slice().sort((a, b) => b.version - a.version);
  if (!versions.length) {
    append(ol, h('li', { class: 'empty-state' }, t('history.none')));
    return;
  }
  for (const v of versions) {
    const live = v.live === true || (v.live === undefined && v.version === detail.live_version);
    const row = h('li', {
      class: `version-row${live ? ' is-live' : ''}`,
      'data-testid': 'version-row',
      'data-version': v.version,
      'data-live': live ? 'true' : null,
    });
    const info = h('div', { class: 'version-info' },
      h('span', { class: 'version-name' }, t('history.version', { v: v.version })),
      live ? h('span', { class: 'badge badge-live' }, t('history.live')) : null,
      h('span', { class: 'version-meta' },
        v.published_at ? h('time', { datetime: v.published_at }, formatDate(v.published_at)) : null,
        v.published_by ? ` · ${t('history.by', { who: v.published_by })}` : ''));
    const actions = h('div', { class: 'version-actions' });
    const prev = h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'data-testid': 'version-preview', 'aria-label': t('history.previewLabel', { v: v.version }) }, t('history.preview'));
    prev.addEventListener('click', () => previewVersion(v.version));
    append(actions, prev);
    if (!live) {
      const rb = h('button', {
        type: 'button', class: 'btn btn-small btn-secondary', 'data-testid': 'rollback',
        'aria-label': t('history.rollbackLabel', { v: v.version }), disabled: Boolean(state.busy),
      }, t('history.rollback'));
      rb.addEventListener('click', () => rollback(v.version));
      append(actions, rb);
    }
    append(row, info, actions);
    append(ol, row);
  }
}

// ---------------------------------------------------------------------------------------------
// Modal dialogs (in-page: no window.confirm/prompt)

function openModal(build) {
  const root = $('#modal-root');
  const previous = document.activeElement;
  const titleId = nextId('dlg');
  const bodyId = nextId('dlgb');
  const dialog = h('div', { class: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId, 'aria-describedby': bodyId, 'data-testid': 'dialog' });
  const backdrop = h('div', { class: 'modal-backdrop' }, dialog);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    backdrop.remove();
    document.removeEventListener('keydown', onKey, true);
    if (previous && typeof previous.focus === 'function' && document.contains(previous)) previous.focus();
  };
  const onKey = (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      api_.cancel();
    } else if (e.key === 'Tab') {
      const items = [...dialog.querySelectorAll('button, input, select, textarea, a[href]')].filter((x) => !x.disabled && !x.hidden);
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    }
  };
  const api_ = { dialog, titleId, bodyId, close, cancel: () => {} };
  build(api_);
  append(root, backdrop);
  document.addEventListener('keydown', onKey, true);
  const auto = dialog.querySelector('[data-autofocus]') || dialog.querySelector('button');
  if (auto) auto.focus();
  return api_;
}

function confirmDialog({ title, body, yes, danger = false }) {
  return new Promise((resolve) => {
    openModal((m) => {
      const finish = (v) => {
        m.close();
        resolve(v);
      };
      m.cancel = () => finish(false);
      const no = h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'confirm-no', 'data-autofocus': '' }, t('confirm.cancel'));
      const ok = h('button', { type: 'button', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, 'data-testid': 'confirm-yes' }, yes);
      no.addEventListener('click', () => finish(false));
      ok.addEventListener('click', () => finish(true));
      append(m.dialog, 
        h('h2', { id: m.titleId, class: 'modal-title' }, title),
        h('p', { id: m.bodyId, class: 'modal-body' }, body),
        h('div', { class: 'modal-actions' }, no, ok),
      );
    });
  });
}

function newPageDialog() {
  return new Promise((resolve) => {
    openModal((m) => {
      const finish = (v) => {
        m.close();
        resolve(v);
      };
      m.cancel = () => finish(null);
      const field = (key, label, attrs, help) => {
        const id = `new-page-${key}`;
        const err = h('p', { class: 'field-error', id: `${id}-error`, hidden: true, 'data-testid': `new-page-${key}-error` });
        const input = h('input', { id, name: key, type: 'text', class: 'input', autocomplete: 'off', 'data-testid': `new-page-${key}`, 'aria-describedby': `${help ? `${id}-help ` : ''}${id}-error`, ...attrs });
        return { input, err, el: h('div', { class: 'field' }, h('label', { for: id, class: 'field-label' }, label), help ? h('p', { class: 'help', id: `${id}-help` }, help) : null, input, err) };
      };
      const idF = field('id', t('newpage.id'), { spellcheck: 'false', 'data-autofocus': '', pattern: '[a-z][a-z0-9-]{0,47}' }, t('newpage.idHelp'));
      const routeF = field('route', t('newpage.route'), { spellcheck: 'false', placeholder: '/offers' }, t('page.routeHelp'));
      const titleF = field('title', t('newpage.pageTitle', { lang: state.lang }), {});
      let routeTouched = false;
      routeF.input.addEventListener('input', () => {
        routeTouched = true;
      });
      idF.input.addEventListener('input', () => {
        if (!routeTouched) routeF.input.value = idF.input.value ? `/${idF.input.value}` : '';
      });
      const setErr = (f, msg) => {
        f.err.textContent = msg || '';
        f.err.hidden = !msg;
        if (msg) f.input.setAttribute('aria-invalid', 'true');
        else f.input.removeAttribute('aria-invalid');
      };
      const formEl = h('form', { class: 'modal-form', novalidate: true });
      const cancel = h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'new-page-cancel' }, t('confirm.cancel'));
      const create = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'new-page-create' }, t('newpage.create'));
      cancel.addEventListener('click', () => finish(null));
      formEl.addEventListener('submit', (e) => {
        e.preventDefault();
        const id = idF.input.value.trim();
        const route = routeF.input.value.trim();
        const title = titleF.input.value.trim();
        let ok = true;
        if (!PAGE_ID_RE.test(id)) {
          setErr(idF, t('v.pageId'));
          ok = false;
        } else if (state.pages.some((p) => p.id === id)) {
          setErr(idF, t('newpage.exists'));
          ok = false;
        } else setErr(idF, null);
        const routeErrs = [];
        validateRoute(route, routeErrs);
        setErr(routeF, routeErrs.length ? routeErrs[0].message : null);
        if (routeErrs.length) ok = false;
        setErr(titleF, title ? null : t('v.required'));
        if (!title) ok = false;
        if (!ok) {
          const bad = formEl.querySelector('[aria-invalid="true"]');
          if (bad) bad.focus();
          return;
        }
        finish({ id, route, title });
      });
      append(formEl, idF.el, routeF.el, titleF.el, h('div', { class: 'modal-actions' }, cancel, create));
      append(m.dialog, h('h2', { id: m.titleId, class: 'modal-title' }, t('newpage.title')), h('div', { id: m.bodyId }, formEl));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// i18n of the static page

function applyStaticStrings() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
  for (const el of document.querySelectorAll('[data-i18n-title]')) el.setAttribute('title', t(el.dataset.i18nTitle));
  for (const el of document.querySelectorAll('[data-i18n-aria-label]')) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  $('#ui-lang').value = state.lang;
}

function setLanguage(lang) {
  state.lang = STRINGS[lang] ? lang : 'en';
  try {
    localStorage.setItem('forecourt.builder.lang', state.lang);
  } catch {
    /* ignore */
  }
  applyStaticStrings();
  revalidate();
  if (!$('#editor-view').hidden) {
    renderAllEditor({ preserveFocus: true });
    if ($('#preview-state').dataset.kind === 'ok') setPreviewState(t('preview.ready'), 'ok');
  }
}

function initialLanguage() {
  try {
    const saved = localStorage.getItem('forecourt.builder.lang');
    if (saved && STRINGS[saved]) return saved;
  } catch {
    /* ignore */
  }
  const langs = (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en']).map((l) => String(l).toLowerCase());
  for (const l of langs) {
    if (l.startsWith('zh')) return 'zh-CN';
    if (l.startsWith('en')) return 'en';
  }
  return 'en';
}

// ---------------------------------------------------------------------------------------------
// Wiring

function bind() {
  $('#login-form').addEventListener('submit', onLogin);
  $('#logout').addEventListener('click', onLogout);
  $('#ui-lang').addEventListener('change', (e) => setLanguage(e.target.value));
  $('#save-draft').addEventListener('click', () => save());
  $('#publish').addEventListener('click', () => publish());
  $('#undo').addEventListener('click', () => undo());
  $('#new-page').addEventListener('click', () => newPage());
  $('#problems-button').addEventListener('click', () => {
    const panel = $('#error-summary');
    panel.scrollIntoView({ block: 'start', behavior: 'smooth' });
    $('#error-summary-heading').focus({ preventScroll: true });
  });
  $('#history-button').addEventListener('click', () => {
    $('#history-panel').scrollIntoView({ block: 'start', behavior: 'smooth' });
    $('#history-heading').focus({ preventScroll: true });
    $('#history-panel').classList.add('flash');
    setTimeout(() => $('#history-panel').classList.remove('flash'), 1200);
  });
  $('#preview-locale').addEventListener('change', (e) => {
    state.previewLocale = e.target.value;
    schedulePreview();
  });
  $('#preview-back').addEventListener('click', () => {
    state.previewVersion = null;
    renderPreviewBanner();
    schedulePreview(0);
  });
  $('#palette-filter').addEventListener('input', () => renderPalette());

  const palette = $('#palette');
  palette.addEventListener('click', (e) => {
    const btn = e.target.closest('[data-testid="palette-add"]');
    if (!btn) return;
    const item = btn.closest('[data-testid="palette-item"]');
    const target = addTarget();
    insertBlock(item.dataset.blockType, target.parentId, target.index);
  });
  palette.addEventListener('dragstart', onPaletteDragStart);
  palette.addEventListener('dragend', endDrag);

  const tree = $('#page-tree');
  tree.addEventListener('click', onTreeClick);
  tree.addEventListener('keydown', onTreeKeydown);
  tree.addEventListener('pointerdown', onTreePointerDown);
  tree.addEventListener('dragstart', onTreeDragStart);
  tree.addEventListener('dragend', endDrag);
  const zone = $('#tree-scroll');
  zone.addEventListener('dragover', onTreeDragOver);
  zone.addEventListener('dragenter', onTreeDragOver);
  zone.addEventListener('dragleave', onTreeDragLeave);
  zone.addEventListener('drop', onTreeDrop);
  document.addEventListener('dragend', endDrag);
  document.addEventListener('drop', () => {
    if (state.drag) endDrag();
  });

  document.addEventListener('keydown', (e) => {
    const mod = e.ctrlKey || e.metaKey;
    if (!mod || $('#editor-view').hidden || $('#modal-root').childElementCount) return;
    const k = e.key.toLowerCase();
    if (k === 's') {
      e.preventDefault();
      save();
    } else if (k === 'z' && !e.shiftKey) {
      const tag = (document.activeElement && document.activeElement.tagName) || '';
      if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') return; // the control's own undo
      e.preventDefault();
      undo();
    }
  });
  window.addEventListener('beforeunload', (e) => {
    if (isDirty()) {
      e.preventDefault();
      e.returnValue = '';
    }
  });
}

async function main() {
  state.lang = initialLanguage();
  state.previewLocale = state.lang;
  $('#preview-locale').value = state.previewLocale;
  applyStaticStrings();
  bind();
  const me = await api('GET', '/me', undefined, { noAuthRedirect: true });
  if (me.ok) {
    state.me = me.data;
    await enterEditor();
  } else {
    showLogin(me.status === 0 ? t('login.unreachable', { msg: me.problem.detail || '' }) : '');
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();

// Exposed for tests and debugging (read-only use).
export const _internals = { state, serialize, validateValue, resolvePointer, mapServerErrors, majorToMinor, minorToMajor, rfcToLocal, localToRfc, computeDrop };
