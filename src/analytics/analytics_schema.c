/*
 * analytics_schema.c - the tables of the analytics part: migration step of
 * src/store/migrations.c.  Forward only once released.  Rollup tables hold
 * vocabulary values as text; the facts (an_facts) hold vocabulary indices
 * (internal, rebuilt by `otklik analytics rebuild`).  Days are UTC days
 * since 1970-01-01.  Rollup rows with store_id 0 hold the whole chain (every
 * request, with or without a store), so chain-wide views read few rows;
 * keys lead with store_id so one store's or region's rows are range scans.
 * an_roll_survey rows with channel '*' sum every channel.
 * analytics_schema_7_sql (step 7) remakes the rollup tables WITHOUT ROWID and
 * indexes the invitations by survey; analytics_schema_9_sql (step 9) keeps the
 * facts in blocks (an_fact_blocks); analytics_schema_11_sql (step 11) keeps
 * twice as many a block, in an_facts.
 */

const char analytics_schema_sql[] =
    /* Rollups: one row per key, the same measures in every table (see rollup.c). */
    "CREATE TABLE an_roll_req ("
    "  day INTEGER NOT NULL, store_id INTEGER NOT NULL, channel TEXT NOT NULL,"
    "  topic TEXT NOT NULL, kind TEXT NOT NULL,"
    "  n_created INTEGER NOT NULL DEFAULT 0, n_negative INTEGER NOT NULL DEFAULT 0,"
    "  n_neutral INTEGER NOT NULL DEFAULT 0, n_positive INTEGER NOT NULL DEFAULT 0,"
    "  n_responded INTEGER NOT NULL DEFAULT 0, frt_sum_s INTEGER NOT NULL DEFAULT 0,"
    "  n_frt_24h INTEGER NOT NULL DEFAULT 0, n_solved INTEGER NOT NULL DEFAULT 0,"
    "  solve_sum_s INTEGER NOT NULL DEFAULT 0, n_solved_1d INTEGER NOT NULL DEFAULT 0,"
    "  n_fcr INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day, channel, topic, kind));"
    "CREATE TABLE an_roll_store ("
    "  day INTEGER NOT NULL, store_id INTEGER NOT NULL,"
    "  n_created INTEGER NOT NULL DEFAULT 0, n_negative INTEGER NOT NULL DEFAULT 0,"
    "  n_neutral INTEGER NOT NULL DEFAULT 0, n_positive INTEGER NOT NULL DEFAULT 0,"
    "  n_responded INTEGER NOT NULL DEFAULT 0, frt_sum_s INTEGER NOT NULL DEFAULT 0,"
    "  n_frt_24h INTEGER NOT NULL DEFAULT 0, n_solved INTEGER NOT NULL DEFAULT 0,"
    "  solve_sum_s INTEGER NOT NULL DEFAULT 0, n_solved_1d INTEGER NOT NULL DEFAULT 0,"
    "  n_fcr INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day));"
    "CREATE TABLE an_roll_chan ("
    "  day INTEGER NOT NULL, store_id INTEGER NOT NULL, channel TEXT NOT NULL,"
    "  n_created INTEGER NOT NULL DEFAULT 0, n_negative INTEGER NOT NULL DEFAULT 0,"
    "  n_neutral INTEGER NOT NULL DEFAULT 0, n_positive INTEGER NOT NULL DEFAULT 0,"
    "  n_responded INTEGER NOT NULL DEFAULT 0, frt_sum_s INTEGER NOT NULL DEFAULT 0,"
    "  n_frt_24h INTEGER NOT NULL DEFAULT 0, n_solved INTEGER NOT NULL DEFAULT 0,"
    "  solve_sum_s INTEGER NOT NULL DEFAULT 0, n_solved_1d INTEGER NOT NULL DEFAULT 0,"
    "  n_fcr INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day, channel));"
    "CREATE TABLE an_roll_topic ("
    "  day INTEGER NOT NULL, store_id INTEGER NOT NULL, topic TEXT NOT NULL,"
    "  n_created INTEGER NOT NULL DEFAULT 0, n_negative INTEGER NOT NULL DEFAULT 0,"
    "  n_neutral INTEGER NOT NULL DEFAULT 0, n_positive INTEGER NOT NULL DEFAULT 0,"
    "  n_responded INTEGER NOT NULL DEFAULT 0, frt_sum_s INTEGER NOT NULL DEFAULT 0,"
    "  n_frt_24h INTEGER NOT NULL DEFAULT 0, n_solved INTEGER NOT NULL DEFAULT 0,"
    "  solve_sum_s INTEGER NOT NULL DEFAULT 0, n_solved_1d INTEGER NOT NULL DEFAULT 0,"
    "  n_fcr INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day, topic));"
    "CREATE TABLE an_roll_operator ("
    "  day INTEGER NOT NULL, operator_id INTEGER NOT NULL, store_id INTEGER NOT NULL,"
    "  n_created INTEGER NOT NULL DEFAULT 0, n_negative INTEGER NOT NULL DEFAULT 0,"
    "  n_neutral INTEGER NOT NULL DEFAULT 0, n_positive INTEGER NOT NULL DEFAULT 0,"
    "  n_responded INTEGER NOT NULL DEFAULT 0, frt_sum_s INTEGER NOT NULL DEFAULT 0,"
    "  n_frt_24h INTEGER NOT NULL DEFAULT 0, n_solved INTEGER NOT NULL DEFAULT 0,"
    "  solve_sum_s INTEGER NOT NULL DEFAULT 0, n_solved_1d INTEGER NOT NULL DEFAULT 0,"
    "  n_fcr INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day, operator_id));"
    "CREATE TABLE an_roll_survey ("
    "  day INTEGER NOT NULL, store_id INTEGER NOT NULL, channel TEXT NOT NULL,"
    "  kind TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0, score_sum INTEGER NOT NULL DEFAULT 0,"
    "  n_promoters INTEGER NOT NULL DEFAULT 0, n_passives INTEGER NOT NULL DEFAULT 0,"
    "  n_detractors INTEGER NOT NULL DEFAULT 0, n_satisfied INTEGER NOT NULL DEFAULT 0,"
    "  n_low INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day, channel, kind));"
    "CREATE TABLE an_roll_matrix ("
    "  day INTEGER NOT NULL, store_id INTEGER NOT NULL, department TEXT NOT NULL,"
    "  reason TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0, n_low INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day, department, reason));"
    /* What each request currently contributes to the rollups (rollup.c). */
    "CREATE TABLE an_request_facts ("
    "  request_id INTEGER PRIMARY KEY, day INTEGER NOT NULL, store_id INTEGER NOT NULL,"
    "  channel INTEGER NOT NULL, topic INTEGER NOT NULL, kind INTEGER NOT NULL,"
    "  sentiment INTEGER NOT NULL, operator_id INTEGER NOT NULL, responded INTEGER NOT NULL,"
    "  frt_s INTEGER NOT NULL, solved INTEGER NOT NULL, solve_s INTEGER NOT NULL,"
    "  fcr INTEGER NOT NULL);"
    /* Surveys (surveys.c). */
    "CREATE TABLE an_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE surveys ("
    "  id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,"
    "  trigger TEXT NOT NULL, question TEXT NOT NULL, is_active INTEGER NOT NULL DEFAULT 1,"
    "  min_interval_days INTEGER NOT NULL DEFAULT 30, low_score INTEGER NOT NULL,"
    "  schedule_days INTEGER NOT NULL DEFAULT 0, created_at_ms INTEGER NOT NULL);"
    "INSERT INTO surveys (code, kind, trigger, question, min_interval_days, low_score, "
    "  schedule_days, created_at_ms) VALUES "
    "('after_request', 'csat', 'request_solved', 'Как вы оцениваете решение вашего обращения?',"
    "  14, 2, 0, 0),"
    "('after_delivery', 'nps', 'order_delivered',"
    "  'Насколько вероятно, что вы порекомендуете нас друзьям и знакомым?', 30, 6, 0, 0),"
    "('after_visit', 'nps', 'purchase',"
    "  'Насколько вероятно, что вы порекомендуете наш магазин друзьям?', 30, 6, 0, 0),"
    "('effort', 'ces', 'manual', 'Насколько легко было решить ваш вопрос?', 14, 3, 0, 0),"
    "('csi', 'csi', 'manual', 'Насколько вы довольны магазином в целом?', 30, 4, 0, 0),"
    "('enps', 'enps', 'schedule',"
    "  'Насколько вероятно, что вы порекомендуете компанию как место работы?', 90, 6, 90, 0);"
    "CREATE TABLE survey_invitations ("
    "  id INTEGER PRIMARY KEY, survey_id INTEGER NOT NULL REFERENCES surveys(id),"
    "  customer_id INTEGER, user_id INTEGER, request_id INTEGER, order_id INTEGER,"
    "  store_id INTEGER, department TEXT, channel TEXT NOT NULL, source TEXT NOT NULL,"
    "  status TEXT NOT NULL, outbox_id INTEGER, delivery_error TEXT,"
    "  created_at_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL,"
    "  answered_at_ms INTEGER);"
    "CREATE INDEX survey_invitations_customer ON survey_invitations(customer_id, created_at_ms);"
    "CREATE INDEX survey_invitations_user ON survey_invitations(user_id, created_at_ms);"
    /* eNPS answers carry no invitation, customer or user: only store/department. */
    "CREATE TABLE survey_answers ("
    "  id INTEGER PRIMARY KEY, survey_id INTEGER NOT NULL REFERENCES surveys(id),"
    "  invitation_id INTEGER UNIQUE, kind TEXT NOT NULL, score INTEGER NOT NULL,"
    "  reason TEXT, department TEXT, comment TEXT, topic TEXT, sentiment TEXT,"
    "  store_id INTEGER, channel TEXT NOT NULL, customer_id INTEGER,"
    "  followup_request_id INTEGER, at_ms INTEGER NOT NULL);"
    "CREATE INDEX survey_answers_at ON survey_answers(at_ms);"
    /* Alerts raised by the trend detector (trends.c). */
    "CREATE TABLE an_alerts ("
    "  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, topic TEXT NOT NULL, scope TEXT NOT NULL,"
    "  store_id INTEGER NOT NULL, region TEXT NOT NULL, day INTEGER NOT NULL,"
    "  score REAL NOT NULL, p_value REAL NOT NULL, evidence TEXT NOT NULL,"
    "  event_id INTEGER, created_at_ms INTEGER NOT NULL,"
    "  UNIQUE (kind, topic, scope, store_id, region, day));"
    "CREATE INDEX an_alerts_day ON an_alerts(day);";

/*
 * Step 7: the rollup tables keyed by their primary key alone (WITHOUT ROWID):
 * a row is one B-tree entry instead of a table row plus its key's index, so
 * a rollup upsert and a rebuild write half as much and a dashboard reads
 * the key's range without a second lookup.
 */
const char analytics_schema_7_sql[] =
    "CREATE TABLE an_roll_req_k ("
    "  day INTEGER NOT NULL, store_id INTEGER NOT NULL, channel TEXT NOT NULL,"
    "  topic TEXT NOT NULL, kind TEXT NOT NULL,"
    "  n_created INTEGER NOT NULL DEFAULT 0,"
    "  n_negative INTEGER NOT NULL DEFAULT 0,"
    "  n_neutral INTEGER NOT NULL DEFAULT 0,"
    "  n_positive INTEGER NOT NULL DEFAULT 0,"
    "  n_responded INTEGER NOT NULL DEFAULT 0,"
    "  frt_sum_s INTEGER NOT NULL DEFAULT 0, n_frt_24h INTEGER NOT NULL DEFAULT 0,"
    "  n_solved INTEGER NOT NULL DEFAULT 0,"
    "  solve_sum_s INTEGER NOT NULL DEFAULT 0,"
    "  n_solved_1d INTEGER NOT NULL DEFAULT 0, n_fcr INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day, channel, topic, kind)) WITHOUT ROWID;"
    "INSERT INTO an_roll_req_k SELECT * FROM an_roll_req;"
    "DROP TABLE an_roll_req;"
    "ALTER TABLE an_roll_req_k RENAME TO an_roll_req;"
    "CREATE TABLE an_roll_store_k ("
    "  day INTEGER NOT NULL, store_id INTEGER NOT NULL,"
    "  n_created INTEGER NOT NULL DEFAULT 0,"
    "  n_negative INTEGER NOT NULL DEFAULT 0,"
    "  n_neutral INTEGER NOT NULL DEFAULT 0,"
    "  n_positive INTEGER NOT NULL DEFAULT 0,"
    "  n_responded INTEGER NOT NULL DEFAULT 0,"
    "  frt_sum_s INTEGER NOT NULL DEFAULT 0, n_frt_24h INTEGER NOT NULL DEFAULT 0,"
    "  n_solved INTEGER NOT NULL DEFAULT 0,"
    "  solve_sum_s INTEGER NOT NULL DEFAULT 0,"
    "  n_solved_1d INTEGER NOT NULL DEFAULT 0, n_fcr INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day)) WITHOUT ROWID;"
    "INSERT INTO an_roll_store_k SELECT * FROM an_roll_store;"
    "DROP TABLE an_roll_store;"
    "ALTER TABLE an_roll_store_k RENAME TO an_roll_store;"
    "CREATE TABLE an_roll_chan_k ("
    "  day INTEGER NOT NULL, store_id INTEGER NOT NULL, channel TEXT NOT NULL,"
    "  n_created INTEGER NOT NULL DEFAULT 0,"
    "  n_negative INTEGER NOT NULL DEFAULT 0,"
    "  n_neutral INTEGER NOT NULL DEFAULT 0,"
    "  n_positive INTEGER NOT NULL DEFAULT 0,"
    "  n_responded INTEGER NOT NULL DEFAULT 0,"
    "  frt_sum_s INTEGER NOT NULL DEFAULT 0, n_frt_24h INTEGER NOT NULL DEFAULT 0,"
    "  n_solved INTEGER NOT NULL DEFAULT 0,"
    "  solve_sum_s INTEGER NOT NULL DEFAULT 0,"
    "  n_solved_1d INTEGER NOT NULL DEFAULT 0, n_fcr INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day, channel)) WITHOUT ROWID;"
    "INSERT INTO an_roll_chan_k SELECT * FROM an_roll_chan;"
    "DROP TABLE an_roll_chan;"
    "ALTER TABLE an_roll_chan_k RENAME TO an_roll_chan;"
    "CREATE TABLE an_roll_topic_k ("
    "  day INTEGER NOT NULL, store_id INTEGER NOT NULL, topic TEXT NOT NULL,"
    "  n_created INTEGER NOT NULL DEFAULT 0,"
    "  n_negative INTEGER NOT NULL DEFAULT 0,"
    "  n_neutral INTEGER NOT NULL DEFAULT 0,"
    "  n_positive INTEGER NOT NULL DEFAULT 0,"
    "  n_responded INTEGER NOT NULL DEFAULT 0,"
    "  frt_sum_s INTEGER NOT NULL DEFAULT 0, n_frt_24h INTEGER NOT NULL DEFAULT 0,"
    "  n_solved INTEGER NOT NULL DEFAULT 0,"
    "  solve_sum_s INTEGER NOT NULL DEFAULT 0,"
    "  n_solved_1d INTEGER NOT NULL DEFAULT 0, n_fcr INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day, topic)) WITHOUT ROWID;"
    "INSERT INTO an_roll_topic_k SELECT * FROM an_roll_topic;"
    "DROP TABLE an_roll_topic;"
    "ALTER TABLE an_roll_topic_k RENAME TO an_roll_topic;"
    "CREATE TABLE an_roll_operator_k ("
    "  day INTEGER NOT NULL, operator_id INTEGER NOT NULL,"
    "  store_id INTEGER NOT NULL, n_created INTEGER NOT NULL DEFAULT 0,"
    "  n_negative INTEGER NOT NULL DEFAULT 0,"
    "  n_neutral INTEGER NOT NULL DEFAULT 0,"
    "  n_positive INTEGER NOT NULL DEFAULT 0,"
    "  n_responded INTEGER NOT NULL DEFAULT 0,"
    "  frt_sum_s INTEGER NOT NULL DEFAULT 0, n_frt_24h INTEGER NOT NULL DEFAULT 0,"
    "  n_solved INTEGER NOT NULL DEFAULT 0,"
    "  solve_sum_s INTEGER NOT NULL DEFAULT 0,"
    "  n_solved_1d INTEGER NOT NULL DEFAULT 0, n_fcr INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day, operator_id)) WITHOUT ROWID;"
    "INSERT INTO an_roll_operator_k SELECT * FROM an_roll_operator;"
    "DROP TABLE an_roll_operator;"
    "ALTER TABLE an_roll_operator_k RENAME TO an_roll_operator;"
    "CREATE TABLE an_roll_survey_k ("
    "  day INTEGER NOT NULL, store_id INTEGER NOT NULL, channel TEXT NOT NULL,"
    "  kind TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0,"
    "  score_sum INTEGER NOT NULL DEFAULT 0,"
    "  n_promoters INTEGER NOT NULL DEFAULT 0,"
    "  n_passives INTEGER NOT NULL DEFAULT 0,"
    "  n_detractors INTEGER NOT NULL DEFAULT 0,"
    "  n_satisfied INTEGER NOT NULL DEFAULT 0, n_low INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day, channel, kind)) WITHOUT ROWID;"
    "INSERT INTO an_roll_survey_k SELECT * FROM an_roll_survey;"
    "DROP TABLE an_roll_survey;"
    "ALTER TABLE an_roll_survey_k RENAME TO an_roll_survey;"
    "CREATE TABLE an_roll_matrix_k ("
    "  day INTEGER NOT NULL, store_id INTEGER NOT NULL, department TEXT NOT NULL,"
    "  reason TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0,"
    "  n_low INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (store_id, day, department, reason)) WITHOUT ROWID;"
    "INSERT INTO an_roll_matrix_k SELECT * FROM an_roll_matrix;"
    "DROP TABLE an_roll_matrix;"
    "ALTER TABLE an_roll_matrix_k RENAME TO an_roll_matrix;"
    /* A survey's invitations newest first (GET /api/v1/surveys/{id}/invitations). */
    "CREATE INDEX survey_invitations_survey ON survey_invitations(survey_id, id);";

/*
 * Step 9: facts in blocks (FACT_BLOCK requests' facts a row, analytics_int.h)
 * instead of a row each.  The old facts are not converted: the rollups are
 * emptied and their cursor forgotten, so the worker makes them again from the
 * event log at the next start (a rebuild when far behind, the consumer else).
 */
const char analytics_schema_9_sql[] =
    "DROP TABLE an_request_facts;"
    "CREATE TABLE an_fact_blocks (block INTEGER PRIMARY KEY, facts BLOB NOT NULL);"
    "DELETE FROM an_roll_req; DELETE FROM an_roll_store; DELETE FROM an_roll_chan;"
    "DELETE FROM an_roll_topic; DELETE FROM an_roll_operator; DELETE FROM an_roll_survey;"
    "DELETE FROM an_roll_matrix;"
    "DELETE FROM consumers WHERE name = 'analytics.rollup';";

/*
 * Step 11: facts of 24 bytes instead of 48, FACT_BLOCK 168 a block
 * (analytics_int.h): half the pages to write, read and free.  A table of
 * another name (an_facts), so that a server of the step before, still
 * running beside the program that migrates, fails instead of writing blocks
 * of the old layout that would be read as the new.  As in step 9 the old
 * blocks are not converted: the rollups are emptied and their cursor
 * forgotten, and the worker makes them again from the event log.
 */
const char analytics_schema_11_sql[] =
    "DROP TABLE an_fact_blocks;"
    "CREATE TABLE an_facts (block INTEGER PRIMARY KEY, facts BLOB NOT NULL);"
    "DELETE FROM an_roll_req; DELETE FROM an_roll_store; DELETE FROM an_roll_chan;"
    "DELETE FROM an_roll_topic; DELETE FROM an_roll_operator; DELETE FROM an_roll_survey;"
    "DELETE FROM an_roll_matrix;"
    "DELETE FROM consumers WHERE name = 'analytics.rollup';";
