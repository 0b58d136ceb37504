/*
 * calc.h - `otklik calc`: the metric and SLA calculators on the command line.
 *
 * For analysts, planners and admins checking a policy.  Each subcommand
 * (nps, enps, csat, loyalty, service-level, erlang-c, due) takes key=value
 * words and prints one JSON object on stdout; the arithmetic itself lives in
 * analytics/metrics.h and rules/calendar.h.
 */
#ifndef OTKLIK_CALC_H
#define OTKLIK_CALC_H

/*
 * `otklik calc SUBCOMMAND key=value ...`: argv[0] is "calc".
 * Returns the process exit status: 0 with one JSON object on stdout;
 * 2 for bad, missing or unknown arguments (a message on stderr naming the
 * argument); 0 for --help (usage on stdout).
 */
int calc_main(int argc, char **argv);

#endif
