/*
 * rules_schema.c - the tables of the rules part: migration step 2 of
 * src/store/migrations.c.  Rules with versions, SLA policies, calendars and
 * clocks, persisted timers, the escalation matrix, notifications, routing,
 * goodwill limits and approvals, webhooks and the QR secret.  Forward only
 * once released; the seed rows are the defaults an admin edits later.
 * rules_schema_5_sql is step 5: signed webhooks and timers kept only while
 * pending; rules_schema_10_sql is step 10: SLA clocks WITHOUT ROWID.
 */

const char rules_schema_sql[] =
    /* A rule's current definition; every save keeps the old one in rule_versions. */
    "CREATE TABLE rules ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, position INTEGER NOT NULL DEFAULT 100,"
    "  is_enabled INTEGER NOT NULL DEFAULT 1, version INTEGER NOT NULL DEFAULT 1,"
    "  definition TEXT NOT NULL, is_deleted INTEGER NOT NULL DEFAULT 0,"
    "  created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, updated_by TEXT);"
    "CREATE TABLE rule_versions ("
    "  rule_id INTEGER NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL,"
    "  saved_at_ms INTEGER NOT NULL, saved_by TEXT, PRIMARY KEY (rule_id, version));"
    "CREATE TABLE request_tags ("
    "  request_id INTEGER NOT NULL, tag TEXT NOT NULL, added_at_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (request_id, tag));"
    "CREATE TABLE request_links ("
    "  request_id INTEGER NOT NULL, linked_request_id INTEGER NOT NULL, kind TEXT NOT NULL,"
    "  created_at_ms INTEGER NOT NULL, PRIMARY KEY (request_id, linked_request_id));"
    "CREATE INDEX request_links_linked ON request_links(linked_request_id);"
    /* SLA: calendars by code ("store" is a template: the store's zone replaces its zone). */
    "CREATE TABLE calendars ("
    "  code TEXT PRIMARY KEY, definition TEXT NOT NULL, updated_at_ms INTEGER NOT NULL);"
    "CREATE TABLE sla_policies ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, position INTEGER NOT NULL,"
    "  is_enabled INTEGER NOT NULL DEFAULT 1, match TEXT NOT NULL DEFAULT '{}',"
    "  calendar TEXT NOT NULL, first_response_ms INTEGER NOT NULL DEFAULT 0,"
    "  next_response_ms INTEGER NOT NULL DEFAULT 0, resolution_ms INTEGER NOT NULL DEFAULT 0,"
    "  warn_pct INTEGER NOT NULL DEFAULT 80, goal_pct REAL NOT NULL DEFAULT 90,"
    "  pause_pending INTEGER NOT NULL DEFAULT 1, pause_on_hold INTEGER NOT NULL DEFAULT 1,"
    "  updated_at_ms INTEGER NOT NULL);"
    "CREATE TABLE sla_clocks ("
    "  request_id INTEGER NOT NULL, clock TEXT NOT NULL, policy_id INTEGER NOT NULL,"
    "  calendar TEXT NOT NULL, time_zone TEXT NOT NULL, started_at_ms INTEGER NOT NULL,"
    "  target_ms INTEGER NOT NULL, warn_pct INTEGER NOT NULL, due_at_ms INTEGER NOT NULL,"
    "  warn_at_ms INTEGER NOT NULL, state TEXT NOT NULL, paused_at_ms INTEGER,"
    "  stopped_at_ms INTEGER, outcome TEXT, warned_at_ms INTEGER, breached_at_ms INTEGER,"
    "  PRIMARY KEY (request_id, clock));"
    "CREATE INDEX sla_clocks_outcome ON sla_clocks(clock, outcome);"
    "CREATE TABLE sla_pauses ("
    "  request_id INTEGER NOT NULL, clock TEXT NOT NULL, start_ms INTEGER NOT NULL,"
    "  end_ms INTEGER NOT NULL);"
    "CREATE INDEX sla_pauses_request ON sla_pauses(request_id, clock);"
    /* Timers: a row while pending (fired_at_ms NULL); deleted once fired or cancelled
     * (from step 5 on; before it, fired rows were kept and -1 marked a cancel). */
    "CREATE TABLE timers ("
    "  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, request_id INTEGER, order_id INTEGER,"
    "  ref TEXT NOT NULL DEFAULT '', due_at_ms INTEGER NOT NULL, fired_at_ms INTEGER,"
    "  created_at_ms INTEGER NOT NULL);"
    "CREATE INDEX timers_pending ON timers(due_at_ms, id) WHERE fired_at_ms IS NULL;"
    "CREATE INDEX timers_request ON timers(request_id, kind) WHERE fired_at_ms IS NULL;"
    /* Escalation matrix: levels as JSON [{"level": "...", "minutes": N}, ...]. */
    "CREATE TABLE escalation_matrix ("
    "  id INTEGER PRIMARY KEY, position INTEGER NOT NULL, kind TEXT, topic TEXT, priority TEXT,"
    "  levels TEXT NOT NULL, updated_at_ms INTEGER NOT NULL);"
    "CREATE TABLE escalations ("
    "  request_id INTEGER PRIMARY KEY, matrix_id INTEGER NOT NULL, level_index INTEGER NOT NULL,"
    "  level TEXT NOT NULL, speedup INTEGER NOT NULL DEFAULT 1, started_at_ms INTEGER NOT NULL,"
    "  level_at_ms INTEGER NOT NULL, next_at_ms INTEGER, confirmed_at_ms INTEGER,"
    "  confirmed_by TEXT, stopped_at_ms INTEGER, stop_reason TEXT);"
    "CREATE TABLE notifications ("
    "  id INTEGER PRIMARY KEY, user_id INTEGER, role TEXT, store_id INTEGER, region TEXT,"
    "  request_id INTEGER, kind TEXT NOT NULL, title TEXT NOT NULL, body TEXT,"
    "  created_at_ms INTEGER NOT NULL, read_at_ms INTEGER);"
    "CREATE INDEX notifications_user ON notifications(user_id, id);"
    "CREATE INDEX notifications_role ON notifications(role, id) WHERE user_id IS NULL;"
    /* Routing. */
    "CREATE TABLE operator_status ("
    "  user_id INTEGER PRIMARY KEY, is_available INTEGER NOT NULL, capacity INTEGER NOT NULL,"
    "  updated_at_ms INTEGER NOT NULL);"
    "CREATE TABLE queues ("
    "  code TEXT PRIMARY KEY, name TEXT NOT NULL, skills TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX requests_assignee ON requests(assignee_id, status);"
    "CREATE TABLE request_outcomes ("
    "  request_id INTEGER PRIMARY KEY, first_assignee_id INTEGER, n_assignments INTEGER NOT NULL,"
    "  n_reopens INTEGER NOT NULL, is_fcr INTEGER NOT NULL, solved_at_ms INTEGER NOT NULL);"
    /* Goodwill bonuses. */
    "CREATE TABLE goodwill_limits ("
    "  role TEXT PRIMARY KEY, max_points INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);"
    "CREATE TABLE goodwill_requests ("
    "  id INTEGER PRIMARY KEY, request_id INTEGER NOT NULL, customer_id INTEGER NOT NULL,"
    "  points INTEGER NOT NULL, reason TEXT NOT NULL, requested_by TEXT NOT NULL,"
    "  status TEXT NOT NULL, decided_by TEXT, created_at_ms INTEGER NOT NULL,"
    "  decided_at_ms INTEGER);"
    /* Webhooks queued by rules and delivered by a periodic job. */
    "CREATE TABLE webhook_queue ("
    "  id INTEGER PRIMARY KEY, rule_id INTEGER, request_id INTEGER, url TEXT NOT NULL,"
    "  body TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_at_ms INTEGER NOT NULL, last_error TEXT, created_at_ms INTEGER NOT NULL);"
    "CREATE INDEX webhook_queue_due ON webhook_queue(next_at_ms) WHERE status = 'pending';"
    "CREATE TABLE rules_secrets ("
    "  name TEXT PRIMARY KEY, value BLOB NOT NULL, created_at_ms INTEGER NOT NULL);"
    /* ---- defaults ---- */
    "INSERT INTO calendars (code, definition, updated_at_ms) VALUES "
    "('24x7', '{\"time_zone\":\"UTC\",\"week\":{\"mon\":[[\"00:00\",\"24:00\"]],"
    "\"tue\":[[\"00:00\",\"24:00\"]],\"wed\":[[\"00:00\",\"24:00\"]],\"thu\":[[\"00:00\","
    "\"24:00\"]],\"fri\":[[\"00:00\",\"24:00\"]],\"sat\":[[\"00:00\",\"24:00\"]],"
    "\"sun\":[[\"00:00\",\"24:00\"]]}}', 0),"
    "('care', '{\"time_zone\":\"Europe/Moscow\",\"week\":{\"mon\":[[\"08:00\",\"22:00\"]],"
    "\"tue\":[[\"08:00\",\"22:00\"]],\"wed\":[[\"08:00\",\"22:00\"]],\"thu\":[[\"08:00\","
    "\"22:00\"]],\"fri\":[[\"08:00\",\"22:00\"]],\"sat\":[[\"09:00\",\"20:00\"]],"
    "\"sun\":[[\"09:00\",\"20:00\"]]}}', 0),"
    "('store', '{\"time_zone\":\"Europe/Moscow\",\"week\":{\"mon\":[[\"08:00\",\"22:00\"]],"
    "\"tue\":[[\"08:00\",\"22:00\"]],\"wed\":[[\"08:00\",\"22:00\"]],\"thu\":[[\"08:00\","
    "\"22:00\"]],\"fri\":[[\"08:00\",\"22:00\"]],\"sat\":[[\"08:00\",\"22:00\"]],"
    "\"sun\":[[\"08:00\",\"22:00\"]]}}', 0);"
    /* The retail defaults: phone answered in 20 s (80 %), chat first reply in a
     * minute and solved in 15 minutes (98 %), QR signals handled within the
     * store's hours in an hour, written requests answered and solved in a day. */
    "INSERT INTO sla_policies (id, name, position, match, calendar, first_response_ms,"
    " next_response_ms, resolution_ms, warn_pct, goal_pct, updated_at_ms) VALUES "
    "(1, 'Телефон', 10, '{\"channel\":[\"phone\",\"callback\"]}', '24x7', 20000, 0, 0, 75, 80, 0),"
    "(2, 'Чат', 20, '{\"channel\":[\"chat\"]}', 'care', 60000, 120000, 900000, 80, 98, 0),"
    "(3, 'Сигнал из магазина', 30, '{\"channel\":[\"qr\"]}', 'store', 0, 0, 3600000, 50, 95, 0),"
    "(4, 'Письменные обращения', 100, '{}', '24x7', 86400000, 86400000, 86400000, 80, 90, 0);"
    "INSERT INTO escalation_matrix (id, position, kind, topic, priority, levels, updated_at_ms)"
    " VALUES "
    "(1, 10, 'signal', NULL, NULL, '[{\"level\":\"store_director\",\"minutes\":15},"
    "{\"level\":\"regional_manager\",\"minutes\":30},{\"level\":\"department_head\","
    "\"minutes\":60},{\"level\":\"executive\",\"minutes\":0}]', 0),"
    "(2, 20, NULL, NULL, 'urgent', '[{\"level\":\"operator\",\"minutes\":10},"
    "{\"level\":\"supervisor\",\"minutes\":20},{\"level\":\"department_head\",\"minutes\":60},"
    "{\"level\":\"executive\",\"minutes\":0}]', 0),"
    "(3, 100, NULL, NULL, NULL, '[{\"level\":\"operator\",\"minutes\":60},"
    "{\"level\":\"supervisor\",\"minutes\":120},{\"level\":\"store_director\",\"minutes\":240},"
    "{\"level\":\"regional_manager\",\"minutes\":480},{\"level\":\"department_head\","
    "\"minutes\":1440},{\"level\":\"executive\",\"minutes\":0}]', 0);"
    "INSERT INTO goodwill_limits (role, max_points, updated_at_ms) VALUES "
    "('operator', 500, 0), ('supervisor', 5000, 0), ('store_director', 2000, 0),"
    "('admin', 100000, 0);"
    "INSERT INTO queues (code, name, skills) VALUES ('phone', 'Телефон', 'phone'),"
    "('chat', 'Чаты и мессенджеры', 'chat'), ('email', 'Письма и отзывы', 'email');"
    /* The incident machine's rules, editable like any other. */
    "INSERT INTO rules (id, name, position, definition, created_at_ms, updated_at_ms, updated_by)"
    " VALUES "
    "(1, 'Товар не найден: задача онлайн-заказам', 10, '{\"when\":{\"event\":["
    "\"order.status_changed\"],\"order_status\":[\"item_not_found\"]},\"actions\":[{\"type\":"
    "\"create_task\",\"department\":\"online\",\"text\":\"В заказе {order} не найден товар: "
    "предложите замену или другой способ получения\"}]}', 0, 0, 'system'),"
    "(2, 'Заказ опаздывает: предупредить клиента', 20, '{\"when\":{\"event\":[\"order.late\"]},"
    "\"actions\":[{\"type\":\"message_customer\",\"template\":\"Здравствуйте! Заказ {order} "
    "задерживается. Мы уже разбираемся и сообщим новый срок.\"}]}', 0, 0, 'system'),"
    "(3, 'Заказ доставлен: опрос', 30, '{\"when\":{\"event\":[\"order.status_changed\"],"
    "\"order_status\":[\"delivered\"]},\"actions\":[{\"type\":\"survey\",\"survey\":\"csat\"}]}',"
    " 0, 0, 'system'),"
    "(4, 'Долгое ожидание из-за магазина: компенсация', 40, '{\"when\":{\"event\":["
    "\"request.status_changed\"],\"kind\":[\"internal\"],\"status\":[\"solved\"],"
    "\"linked_waited_minutes_gte\":120},\"actions\":[{\"type\":\"compensate\",\"points\":300,"
    "\"reason\":\"Компенсация за ожидание\"}]}', 0, 0, 'system');"
    "INSERT INTO rule_versions (rule_id, version, definition, saved_at_ms, saved_by)"
    " SELECT id, version, definition, 0, 'system' FROM rules;";

const char rules_schema_5_sql[] =
    "ALTER TABLE webhook_queue ADD COLUMN signature TEXT;"
    "DELETE FROM timers WHERE fired_at_ms IS NOT NULL;"
    "CREATE INDEX timers_order ON timers(order_id) WHERE order_id IS NOT NULL;";

/*
 * Step 10: SLA clocks keyed by (request, clock) in one B-tree (WITHOUT ROWID)
 * and without the index by outcome no query needed: a new request's two
 * clocks were six B-tree inserts, now two.
 */
const char rules_schema_10_sql[] =
    "CREATE TABLE sla_clocks_k ("
    "  request_id INTEGER NOT NULL, clock TEXT NOT NULL, policy_id INTEGER NOT NULL,"
    "  calendar TEXT NOT NULL, time_zone TEXT NOT NULL, started_at_ms INTEGER NOT NULL,"
    "  target_ms INTEGER NOT NULL, warn_pct INTEGER NOT NULL, due_at_ms INTEGER NOT NULL,"
    "  warn_at_ms INTEGER NOT NULL, state TEXT NOT NULL, paused_at_ms INTEGER,"
    "  stopped_at_ms INTEGER, outcome TEXT, warned_at_ms INTEGER, breached_at_ms INTEGER,"
    "  PRIMARY KEY (request_id, clock)) WITHOUT ROWID;"
    "INSERT INTO sla_clocks_k SELECT request_id, clock, policy_id, calendar, time_zone,"
    "  started_at_ms, target_ms, warn_pct, due_at_ms, warn_at_ms, state, paused_at_ms,"
    "  stopped_at_ms, outcome, warned_at_ms, breached_at_ms FROM sla_clocks ORDER BY 1, 2;"
    "DROP TABLE sla_clocks;"
    "ALTER TABLE sla_clocks_k RENAME TO sla_clocks;";
