# Reference values for analysis/aggregates.py and the literacy figures of analysis/dashboard.py:
# domain means of a raked online sample (every respondent its own PSU), by group, in subsets.
#
# Uses R's survey package (4.1.1) on the synthetic sample committed in
# tests/reference/data/dashboard_sample.csv and the census targets in dashboard_targets.csv
# (both written by tests/reference/dashboard_data.py). Writes every result to dashboard_r.json
# beside this script (or under the directory given as the first argument). Run from anywhere:
#   Rscript tests/reference/dashboard.R [output_dir]
# The Python tests compare against the committed output; the test marked `r` reruns this script
# and checks that the output is unchanged.

suppressMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
script_dir <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else getwd()
})
out_dir <- if (length(args)) args[1] else script_dir
data_dir <- file.path(script_dir, "data")
options(survey.lonely.psu = "fail", survey.ultimate.cluster = FALSE)

# ---------------------------------------------------------------------------------------------
# A tiny JSON writer (no extra packages): numbers with 17 significant digits.

results <- list()
num <- function(x) {
  x <- as.numeric(x)
  ifelse(is.finite(x), sprintf("%.17g", x), "null")
}
json_value <- function(v) {
  if (is.list(v)) {
    keys <- names(v)
    inner <- vapply(seq_along(v), function(i) paste0('"', keys[i], '":', json_value(v[[i]])),
                    character(1))
    return(paste0("{", paste(inner, collapse = ","), "}"))
  }
  if (is.character(v)) {
    quoted <- paste0('"', gsub('"', '\\\\"', v), '"')
    return(if (length(v) == 1 && isTRUE(attr(v, "scalar"))) quoted
           else paste0("[", paste(quoted, collapse = ","), "]"))
  }
  paste0("[", paste(num(v), collapse = ","), "]")
}
put <- function(.name, .call, ...) {
  fields <- lapply(list(...), function(f) unname(f))
  results[[.name]] <<- c(list(call = structure(.call, scalar = TRUE)), fields)
}

# ---------------------------------------------------------------------------------------------
# The sample, the targets, the raked design

sample <- read.csv(file.path(data_dir, "dashboard_sample.csv"),
                   colClasses = c(province = "character"))
targets <- read.csv(file.path(data_dir, "dashboard_targets.csv"),
                    colClasses = c("character", "character", "numeric"))
margin <- function(name) {
  rows <- targets[targets$variable == name, ]
  parts <- strsplit(name, "*", fixed = TRUE)[[1]]
  levels <- do.call(rbind, strsplit(rows$level, "*", fixed = TRUE))
  out <- as.data.frame(levels, stringsAsFactors = FALSE)
  names(out) <- parts
  out$Freq <- rows$total
  out
}
population <- sum(targets$total[targets$variable == "province"])
sample$base <- population / nrow(sample)
base <- svydesign(ids = ~1, weights = ~base, data = sample)
raked <- rake(base,
              list(~province, ~province + sex, ~province + age_band, ~province + urban),
              list(margin("province"), margin("province*sex"), margin("province*age_band"),
                   margin("province*urban")),
              control = list(maxit = 200, epsilon = 1e-15))
df <- degf(raked)
put("weights", "weights(rake(svydesign(ids=~1, weights=~N/n), list(~province, ~province+sex, ~province+age_band, ~province+urban), census margins, control=list(maxit=200, epsilon=1e-15)))",
    weights = weights(raked), df = df)

put_stat <- function(name, call, x, df) {
  ci <- confint(x, df = df)
  put(name, call, estimate = coef(x), se = SE(x), ci_lower = ci[, 1], ci_upper = ci[, 2],
      deff = deff(x), df = df)
}
put_by <- function(name, call, x, by, df, with_deff = TRUE) {
  ci <- confint(x, df = df)
  if (with_deff) {
    put(name, call, by = as.character(x[[by]]), estimate = coef(x), se = SE(x),
        ci_lower = ci[, 1], ci_upper = ci[, 2], deff = deff(x), df = df)
  } else {
    put(name, call, by = as.character(x[[by]]), estimate = coef(x), se = SE(x),
        ci_lower = ci[, 1], ci_upper = ci[, 2], df = df)
  }
}

# ---------------------------------------------------------------------------------------------
# Whole sample, by group, and in domains (subset() keeps the whole design for the variance)

put_stat("index", "svymean(~literacy_index, raked, deff=TRUE); confint(df=degf(raked))",
         svymean(~literacy_index, raked, deff = TRUE), df)
put_stat("skills", "svymean(~dim__skills, raked, na.rm=TRUE, deff=TRUE)",
         svymean(~dim__skills, raked, na.rm = TRUE, deff = TRUE), df)
put_by("index_by_province", "svyby(~literacy_index, ~province, raked, svymean, deff=TRUE)",
       svyby(~literacy_index, ~province, raked, svymean, deff = TRUE), "province", df)
put_by("skills_by_province",
       "svyby(~dim__skills, ~province, raked, svymean, na.rm=TRUE, deff=TRUE)",
       svyby(~dim__skills, ~province, raked, svymean, na.rm = TRUE, deff = TRUE), "province", df)
educated_women <- subset(raked, sex == "female" &
                           education %in% c("college", "bachelor", "postgraduate"))
put_by("index_by_province_educated_women",
       "svyby(~literacy_index, ~province, subset(raked, sex=='female' & education %in% c('college','bachelor','postgraduate')), svymean, deff=TRUE)",
       svyby(~literacy_index, ~province, educated_women, svymean, deff = TRUE), "province", df)
first_day <- min(sample$day)
two_weeks <- subset(raked, day >= first_day + 3 & day <= first_day + 16)
put_by("skills_by_sex_days_3_16",
       "svyby(~dim__skills, ~sex, subset(raked, day >= first+3 & day <= first+16), svymean, na.rm=TRUE, deff=TRUE)",
       svyby(~dim__skills, ~sex, two_weeks, svymean, na.rm = TRUE, deff = TRUE), "sex", df)
put_by("knowledge_by_age_group_urban_east",
       "svyby(~dim__knowledge, ~age_group, subset(raked, urban=='urban' & region=='East'), svymean, deff=TRUE)",
       svyby(~dim__knowledge, ~age_group, subset(raked, urban == "urban" & region == "East"),
             svymean, deff = TRUE), "age_group", df)
put_by("index_by_region", "svyby(~literacy_index, ~region, raked, svymean, deff=TRUE)",
       svyby(~literacy_index, ~region, raked, svymean, deff = TRUE), "region", df)

# Unweighted: equal weights, no calibration
equal <- suppressWarnings(svydesign(ids = ~1, data = sample))
put_by("unweighted_index_by_sex_guangdong_sichuan",
       "svyby(~literacy_index, ~sex, subset(svydesign(ids=~1, data=sample), province %in% c('44','51')), svymean)",
       svyby(~literacy_index, ~sex, subset(equal, province %in% c("44", "51")), svymean),
       "sex", degf(equal), with_deff = FALSE)

writeLines(json_value(results), file.path(out_dir, "dashboard_r.json"))
