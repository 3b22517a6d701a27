# Reference values for the estimate tables of analysis/exports.py (tests/analysis/test_exports.py).
#
# Input (written by tests/reference/exports_data.py, committed): data/exports_sample.csv, a
# sample of 240 scored cfl responses in four provinces, and data/exports_targets.csv, the 2020
# census totals of adults by province and by province x sex / age band / urban for those
# provinces. R rakes equal base weights (N / n) to the four margins and estimates the means of
# the dimension scores and the index, each from the responses that have it, overall, by
# province, by sex, and in the domain "province 11 or 31" (a subset of the raked design, so the
# variance uses the whole sample). Writes, beside this script or under the directory given:
#   exports_r_weights.csv   response_id, weight
#   exports_r.csv           case, group, variable, estimate, se, df
#   Rscript tests/reference/exports.R [output_dir]
# Requires R with the survey package (tested with survey 4.1.1, Debian r-cran-survey).

suppressPackageStartupMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
script_dir <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else getwd()
})
out_dir <- if (length(args)) args[1] else script_dir
fmt <- function(x) sprintf("%.17g", x)

s <- read.csv(file.path(script_dir, "data", "exports_sample.csv"), stringsAsFactors = FALSE)
targets <- read.csv(file.path(script_dir, "data", "exports_targets.csv"),
                    stringsAsFactors = FALSE, colClasses = c("character", "character", "numeric"))
s$province <- factor(s$province)
for (v in c("sex", "age_band", "urban")) s[[v]] <- factor(s[[v]])

margin <- function(name) {
  t <- targets[targets$variable == name, ]
  parts <- strsplit(t$level, "*", fixed = TRUE)
  vars <- strsplit(name, "*", fixed = TRUE)[[1]]
  out <- data.frame(lapply(seq_along(vars), function(j) {
    factor(vapply(parts, `[`, character(1), j), levels = levels(s[[vars[j]]]))
  }))
  names(out) <- vars
  out$Freq <- t$total
  out
}
population <- sum(targets$total[targets$variable == "province"])
s$base <- population / nrow(s)
d0 <- svydesign(ids = ~1, weights = ~base, data = s)
raked <- rake(
  d0,
  sample.margins = list(~province, ~province + sex, ~province + age_band, ~province + urban),
  population.margins = list(margin("province"), margin("province*sex"),
                            margin("province*age_band"), margin("province*urban")),
  control = list(maxit = 1000, epsilon = 1e-13, verbose = FALSE)
)
write.csv(data.frame(response_id = s$response_id, weight = fmt(weights(raked))),
          file.path(out_dir, "exports_r_weights.csv"), row.names = FALSE)

variables <- c("dim__knowledge", "dim__attitude", "dim__behaviour", "dim__skills",
               "literacy_index")
rows <- list()
add <- function(case, group, variable, est, se, df) {
  rows[[length(rows) + 1]] <<- data.frame(case = case, group = group, variable = variable,
                                          estimate = fmt(est), se = fmt(se), df = df)
}
for (v in variables) {
  f <- as.formula(paste0("~", v))
  m <- svymean(f, raked, na.rm = TRUE)
  add("overall", "", v, coef(m), SE(m), degf(raked))
  for (by in c("province", "sex")) {
    b <- svyby(f, as.formula(paste0("~", by)), raked, svymean, na.rm = TRUE)
    for (i in seq_len(nrow(b))) {
      add(by, as.character(b[[by]][i]), v, b[[v]][i], SE(b)[i], degf(raked))
    }
  }
  dom <- subset(raked, province %in% c("11", "31"))
  m <- svymean(f, dom, na.rm = TRUE)
  add("domain_11_31", "", v, coef(m), SE(m), degf(raked))
}
write.csv(do.call(rbind, rows), file.path(out_dir, "exports_r.csv"), row.names = FALSE)
