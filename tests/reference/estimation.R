# Reference values for analysis/estimation.py, analysis/replication.py, analysis/regression.py.
#
# Uses R's survey package (4.1.1) and its `api` example data (California Academic Performance
# Index; Lumley, Complex Surveys, 2010). Writes the data it uses to data/est_*.csv and every
# result to estimation_r.json, both beside this script (or under the directory given as the
# first argument). Run from anywhere:
#   Rscript tests/reference/estimation.R [output_dir]
# The Python tests compare against the committed output; tests marked `r` rerun this script and
# check that the output is unchanged.

suppressMessages(library(survey))
data(api)

args <- commandArgs(trailingOnly = TRUE)
script_dir <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else getwd()
})
out_dir <- if (length(args)) args[1] else script_dir
dir.create(file.path(out_dir, "data"), showWarnings = FALSE, recursive = TRUE)

options(survey.lonely.psu = "fail", survey.ultimate.cluster = FALSE)
tight <- glm.control(epsilon = 1e-14, maxit = 100)

# ---------------------------------------------------------------------------------------------
# Output helpers: a tiny JSON writer (no extra packages), numbers with 17 significant digits.

results <- list()
num <- function(x) {
  x <- as.numeric(x)
  ifelse(is.finite(x), sprintf("%.17g", x), "null")
}
json_value <- function(v) {
  if (is.list(v)) {
    keys <- names(v)
    inner <- vapply(seq_along(v), function(i) {
      paste0('"', keys[i], '":', json_value(v[[i]]))
    }, character(1))
    return(paste0("{", paste(inner, collapse = ","), "}"))
  }
  one <- isTRUE(attr(v, "scalar")) && length(v) == 1
  if (is.character(v)) {
    quoted <- paste0('"', gsub('"', '\\\\"', v), '"')
    return(if (one) quoted else paste0("[", paste(quoted, collapse = ","), "]"))
  }
  if (is.logical(v)) v <- as.numeric(v)
  if (one) num(v) else paste0("[", paste(num(v), collapse = ","), "]")
}
scalar <- function(v) structure(v, scalar = TRUE)
put <- function(name, call, ...) {
  fields <- list(...)
  fields <- lapply(fields, function(f) if (is.null(f)) numeric(0) else unname(f))
  if (!is.null(fields$df)) fields$df <- scalar(fields$df)
  if (!is.null(fields$scale)) fields$scale <- scalar(fields$scale)
  results[[name]] <<- c(list(call = scalar(call)), fields)
}

# svymean / svytotal / svyratio and friends: estimate, se, t interval with df, deff.
put_stat <- function(name, call, x, df, deff = TRUE) {
  ci <- confint(x, df = df)
  put(name, call,
      names = names(coef(x)), estimate = coef(x), se = SE(x),
      ci_lower = ci[, 1], ci_upper = ci[, 2], df = df,
      deff = if (deff) deff(x) else NULL)
}
put_ratio <- function(name, call, x, df) {
  est <- as.vector(coef(x)); se <- as.vector(SE(x))
  q <- qt(0.975, df)
  put(name, call, estimate = est, se = se, ci_lower = est - q * se,
      ci_upper = est + q * se, df = df,
      deff = if (!is.null(attr(x, "deff"))) as.vector(attr(x, "deff")) else NULL)
}
put_by <- function(name, call, x, df, deff = TRUE) {
  ci <- confint(x, df = df)
  by_cols <- attr(x, "svyby")$margins
  labels <- do.call(paste, c(lapply(by_cols, function(j) as.character(x[[j]])), sep = "|"))
  put(name, call, by = labels, names = names(coef(x)), estimate = coef(x),
      se = as.vector(as.matrix(SE(x))), ci_lower = ci[, 1], ci_upper = ci[, 2], df = df,
      deff = if (deff) as.vector(as.matrix(deff(x))) else NULL)
}
put_quantile <- function(name, call, x) {
  ci <- confint(x)
  put(name, call, names = names(coef(x)), estimate = coef(x), se = SE(x),
      ci_lower = ci[, 1], ci_upper = ci[, 2])
}
put_glm <- function(name, call, m) {
  s <- summary(m)$coefficients
  ci <- confint(m)
  put(name, call, names = rownames(s), estimate = s[, 1], se = s[, 2], t = s[, 3],
      p = s[, 4], ci_lower = ci[, 1], ci_upper = ci[, 2], df = m$df.residual)
}

# ---------------------------------------------------------------------------------------------
# Data

keep <- c("stype", "dnum", "snum", "sch.wide", "comp.imp", "awards", "api00", "api99",
          "meals", "ell", "mobility", "avg.ed", "enroll", "api.stu", "pw")
strat <- apistrat[, c(keep, "fpc")]
strat$dnum2 <- ifelse(strat$stype == "H", 9999L, strat$dnum)  # stratum H: one PSU
clus1 <- apiclus1[, c(keep, "fpc")]
clus2 <- apiclus2[, c(keep, "fpc1", "fpc2")]

dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = strat, fpc = ~fpc)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = clus1, fpc = ~fpc)
dclus2 <- svydesign(id = ~dnum + snum, weights = ~pw, data = clus2)
dclus2f <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, weights = ~pw, data = clus2)
dnest <- svydesign(id = ~dnum, strata = ~stype, weights = ~pw, data = strat, nest = TRUE)

# ---------------------------------------------------------------------------------------------
# Stratified design with fpc

df <- degf(dstrat)
put_stat("strat_mean", "svymean(~api00+enroll, dstrat, deff=TRUE); confint(df=degf(dstrat))",
         svymean(~api00 + enroll, dstrat, deff = TRUE), df)
put_stat("strat_mean_normal", "svymean(~api00, dstrat); confint() (df=Inf)",
         svymean(~api00, dstrat, deff = TRUE), Inf)
put_stat("strat_total", "svytotal(~enroll, dstrat, deff=TRUE)",
         svytotal(~enroll, dstrat, deff = TRUE), df)
put_by("strat_by_mean", "svyby(~api00, ~sch.wide, dstrat, svymean, deff=TRUE)",
       svyby(~api00, ~sch.wide, dstrat, svymean, deff = TRUE), df)
put_ratio("strat_ratio", "svyratio(~api.stu, ~enroll, dstrat, deff=TRUE)",
          svyratio(~api.stu, ~enroll, dstrat, deff = TRUE), df)
put_stat("strat_prop", "svymean(~sch.wide, dstrat, deff=TRUE)",
         svymean(~sch.wide, dstrat, deff = TRUE), df)
put_by("strat_by_prop", "svyby(~sch.wide, ~stype, dstrat, svymean, deff=TRUE)",
       svyby(~sch.wide, ~stype, dstrat, svymean, deff = TRUE), df)
put_quantile("strat_quantile", "svyquantile(~api00, dstrat, c(0.1, 0.5, 0.9))",
             svyquantile(~api00, dstrat, c(0.1, 0.5, 0.9)))
put_glm("strat_glm", "svyglm(api00 ~ ell + meals + mobility, dstrat)",
        svyglm(api00 ~ ell + meals + mobility, design = dstrat))
cp <- svyciprop(~I(sch.wide == "Yes"), dstrat, method = "logit")
put("strat_ciprop", "svyciprop(~I(sch.wide=='Yes'), dstrat, method='logit')",
    estimate = as.vector(cp), ci_lower = attr(cp, "ci")[1], ci_upper = attr(cp, "ci")[2],
    df = df)
put("strat_degf", "degf(dstrat)", df = df)

# ---------------------------------------------------------------------------------------------
# One-stage cluster sample with fpc

df <- degf(dclus1)
put("clus1_degf", "degf(dclus1)", df = df)
put_stat("clus1_mean", "svymean(~api00+api99, dclus1, deff=TRUE)",
         svymean(~api00 + api99, dclus1, deff = TRUE), df)
put_stat("clus1_total", "svytotal(~enroll, dclus1, deff=TRUE)",
         svytotal(~enroll, dclus1, deff = TRUE), df)
put_by("clus1_by_mean", "svyby(~api00, ~stype, dclus1, svymean, deff=TRUE)",
       svyby(~api00, ~stype, dclus1, svymean, deff = TRUE), df)
put_by("clus1_by_total", "svyby(~enroll, ~stype, dclus1, svytotal, deff=TRUE)",
       svyby(~enroll, ~stype, dclus1, svytotal, deff = TRUE), df)
put_by("clus1_by2_mean", "svyby(~api00, ~stype+sch.wide, dclus1, svymean, deff=TRUE)",
       svyby(~api00, ~stype + sch.wide, dclus1, svymean, deff = TRUE), df)
put_by("clus1_by_ratio", "svyby(~api.stu, ~stype, denominator=~enroll, dclus1, svyratio)",
       svyby(~api.stu, ~stype, denominator = ~enroll, design = dclus1, FUN = svyratio), df,
       deff = FALSE)
put_stat("clus1_na_mean", "svymean(~avg.ed, dclus1, na.rm=TRUE, deff=TRUE)",
         svymean(~avg.ed, dclus1, na.rm = TRUE, deff = TRUE), df)
put_by("clus1_na_by_mean", "svyby(~avg.ed, ~stype, dclus1, svymean, na.rm=TRUE, deff=TRUE)",
       svyby(~avg.ed, ~stype, dclus1, svymean, na.rm = TRUE, deff = TRUE), df)
put_stat("clus1_prop", "svymean(~stype, dclus1, deff=TRUE)",
         svymean(~stype, dclus1, deff = TRUE), df)
put_quantile("clus1_quantile", "svyquantile(~api00, dclus1, c(0.25, 0.5, 0.75))",
             svyquantile(~api00, dclus1, c(0.25, 0.5, 0.75)))
qb <- svyby(~api00, ~sch.wide, dclus1, svyquantile, quantiles = 0.5, df = degf(dclus1),
            vartype = c("se", "ci"))
put("clus1_by_quantile",
    "svyby(~api00, ~sch.wide, dclus1, svyquantile, quantiles=0.5, df=degf(dclus1), vartype=c('se','ci'))",
    by = as.character(qb$sch.wide), estimate = qb$api00, se = qb$se,
    ci_lower = qb$ci_l, ci_upper = qb$ci_u, df = df)
put_glm("clus1_logit",
        "svyglm(I(sch.wide=='Yes') ~ ell + meals + stype, dclus1, family=quasibinomial)",
        svyglm(I(sch.wide == "Yes") ~ ell + meals + stype, design = dclus1,
               family = quasibinomial))
put_glm("clus1_logit_tight",
        "svyglm(I(sch.wide=='Yes') ~ ell + meals + stype, dclus1, family=quasibinomial, control=glm.control(epsilon=1e-14, maxit=100))",
        svyglm(I(sch.wide == "Yes") ~ ell + meals + stype, design = dclus1,
               family = quasibinomial, control = tight))
put_glm("clus1_glm_subset", "svyglm(api00 ~ ell + meals, dclus1, subset=stype=='E')",
        svyglm(api00 ~ ell + meals, design = dclus1, subset = stype == "E"))
cp <- svyby(~I(sch.wide == "Yes"), ~stype, dclus1, svyciprop, method = "logit",
            df = degf(dclus1), vartype = "ci")
put("clus1_by_ciprop",
    "svyby(~I(sch.wide=='Yes'), ~stype, dclus1, svyciprop, method='logit', df=degf(dclus1), vartype='ci')",
    by = as.character(cp$stype), estimate = cp[[2]], ci_lower = cp$ci_l, ci_upper = cp$ci_u,
    df = df)

# ---------------------------------------------------------------------------------------------
# Two-stage cluster sample: first stage only (ultimate cluster)

df <- degf(dclus2)
put("clus2_degf", "degf(svydesign(id=~dnum+snum, weights=~pw, data=apiclus2))", df = df)
put_stat("clus2_mean", "svymean(~api00, dclus2, deff=TRUE)",
         svymean(~api00, dclus2, deff = TRUE), df)
put_stat("clus2_na_mean", "svymean(~enroll, dclus2, na.rm=TRUE, deff=TRUE)",
         svymean(~enroll, dclus2, na.rm = TRUE, deff = TRUE), df)
put_stat("clus2_na_total", "svytotal(~enroll, dclus2, na.rm=TRUE, deff=TRUE)",
         svytotal(~enroll, dclus2, na.rm = TRUE, deff = TRUE), df)
put_by("clus2_by_mean", "svyby(~api00, ~stype, dclus2, svymean, deff=TRUE)",
       svyby(~api00, ~stype, dclus2, svymean, deff = TRUE), df)
put_glm("clus2_glm", "svyglm(api00 ~ ell + meals + stype, dclus2)",
        svyglm(api00 ~ ell + meals + stype, design = dclus2))
put_glm("clus2_glm_na", "svyglm(enroll ~ ell + meals, dclus2)  # 6 rows with NA enroll",
        svyglm(enroll ~ ell + meals, design = dclus2))
options(survey.ultimate.cluster = TRUE)
put_stat("clus2f_mean",
         "options(survey.ultimate.cluster=TRUE); svymean(~api00, svydesign(id=~dnum+snum, fpc=~fpc1+fpc2, weights=~pw))",
         svymean(~api00, dclus2f, deff = TRUE), df)
put_by("clus2f_by_mean", "options(survey.ultimate.cluster=TRUE); svyby(~api00, ~stype, dclus2f, svymean)",
       svyby(~api00, ~stype, dclus2f, svymean, deff = TRUE), df)
options(survey.ultimate.cluster = FALSE)

# ---------------------------------------------------------------------------------------------
# Clusters numbered within strata (nest=TRUE), and strata with a single PSU

df <- degf(dnest)
put("nest_degf", "degf(svydesign(id=~dnum, strata=~stype, weights=~pw, data=apistrat, nest=TRUE))",
    df = df)
put_stat("nest_mean", "svymean(~api00, dnest, deff=TRUE)", svymean(~api00, dnest, deff = TRUE), df)
put_by("nest_by_mean", "svyby(~api00, ~sch.wide, dnest, svymean)",
       svyby(~api00, ~sch.wide, dnest, svymean, deff = TRUE), df)

dlonely <- svydesign(id = ~dnum2, strata = ~stype, weights = ~pw, data = strat, nest = TRUE)
df <- degf(dlonely)
put("lonely_degf", "degf(svydesign(id=~dnum2, strata=~stype, weights=~pw, nest=TRUE))", df = df)
for (mode in c("remove", "certainty", "adjust", "average")) {
  options(survey.lonely.psu = mode)
  put_stat(paste0("lonely_", mode, "_mean"), paste0("options(survey.lonely.psu='", mode, "'); svymean(~api00, dlonely)"),
           svymean(~api00, dlonely, deff = TRUE), df)
  put_stat(paste0("lonely_", mode, "_total"), paste0("options(survey.lonely.psu='", mode, "'); svytotal(~enroll, dlonely)"),
           svytotal(~enroll, dlonely, deff = TRUE), df)
  put_by(paste0("lonely_", mode, "_by_mean"), paste0("options(survey.lonely.psu='", mode, "'); svyby(~api00, ~sch.wide, dlonely, svymean)"),
         svyby(~api00, ~sch.wide, dlonely, svymean, deff = TRUE), df)
  put_by(paste0("lonely_", mode, "_by_stype"), paste0("options(survey.lonely.psu='", mode, "'); svyby(~api00, ~stype, dlonely, svymean)"),
         svyby(~api00, ~stype, dlonely, svymean), df, deff = FALSE)
  put_glm(paste0("lonely_", mode, "_glm"), paste0("options(survey.lonely.psu='", mode, "'); svyglm(api00 ~ ell + meals, dlonely)"),
          svyglm(api00 ~ ell + meals, design = dlonely))
}
options(survey.lonely.psu = "fail")

# ---------------------------------------------------------------------------------------------
# Calibrated designs (one-stage cluster sample)

pop_types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop_schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
pop_cells <- as.data.frame(xtabs(~ stype + sch.wide, data = apipop))
cal <- list(
  ps = postStratify(dclus1, ~stype, pop_types),
  ps2 = postStratify(dclus1, ~stype + sch.wide, pop_cells),
  rake = rake(dclus1, list(~stype, ~sch.wide), list(pop_types, pop_schwide),
              control = list(maxit = 200, epsilon = 1e-15)),
  rakedefault = rake(dclus1, list(~stype, ~sch.wide), list(pop_types, pop_schwide)),
  linear = calibrate(dclus1, ~stype + api99, c(6194, 755, 1018, 3914069)),
  raking = calibrate(dclus1, ~stype + sch.wide, c(6194, 755, 1018, 5122), calfun = "raking",
                     epsilon = 1e-13, maxit = 200),
  logit = calibrate(dclus1, ~stype + api99, c(6194, 755, 1018, 3914069), calfun = "logit",
                    bounds = c(0.7, 1.7), epsilon = 1e-13, maxit = 200)
)
for (nm in names(cal)) clus1[[paste0("w_", nm)]] <- weights(cal[[nm]])

df <- degf(dclus1)
for (nm in names(cal)) {
  d <- cal[[nm]]
  tag <- paste0("cal_", nm)
  what <- paste0("[", nm, "] ")
  put_stat(paste0(tag, "_mean"), paste0(what, "svymean(~api00+api99, d, deff=TRUE)"),
           svymean(~api00 + api99, d, deff = TRUE), df)
  put_stat(paste0(tag, "_total"), paste0(what, "svytotal(~enroll, d, deff=TRUE)"),
           svytotal(~enroll, d, deff = TRUE), df)
  put_by(paste0(tag, "_by_mean"), paste0(what, "svyby(~api00, ~comp.imp, d, svymean, deff=TRUE)"),
         svyby(~api00, ~comp.imp, d, svymean, deff = TRUE), df)
  put_by(paste0(tag, "_by_total"), paste0(what, "svyby(~enroll, ~stype, d, svytotal, deff=TRUE)"),
         svyby(~enroll, ~stype, d, svytotal, deff = TRUE), df)
  put_ratio(paste0(tag, "_ratio"), paste0(what, "svyratio(~api.stu, ~enroll, d, deff=TRUE)"),
            svyratio(~api.stu, ~enroll, d, deff = TRUE), df)
  put_stat(paste0(tag, "_prop"), paste0(what, "svymean(~awards, d, deff=TRUE)"),
           svymean(~awards, d, deff = TRUE), df)
  put_stat(paste0(tag, "_na_mean"), paste0(what, "svymean(~avg.ed, d, na.rm=TRUE, deff=TRUE)"),
           svymean(~avg.ed, d, na.rm = TRUE, deff = TRUE), df)
  put_by(paste0(tag, "_na_by_mean"), paste0(what, "svyby(~avg.ed, ~sch.wide, d, svymean, na.rm=TRUE)"),
         svyby(~avg.ed, ~sch.wide, d, svymean, na.rm = TRUE, deff = TRUE), df)
  put_quantile(paste0(tag, "_quantile"), paste0(what, "svyquantile(~api00, d, c(0.25, 0.5))"),
               svyquantile(~api00, d, c(0.25, 0.5)))
  put_glm(paste0(tag, "_glm"), paste0(what, "svyglm(api00 ~ ell + meals + mobility, d)"),
          svyglm(api00 ~ ell + meals + mobility, design = d))
  put_glm(paste0(tag, "_logit"), paste0(what, "svyglm(I(comp.imp=='Yes') ~ ell + meals, d, family=quasibinomial)"),
          svyglm(I(comp.imp == "Yes") ~ ell + meals, design = d, family = quasibinomial))
}

# A stratified design calibrated on a numeric variable only (intercept + api99).
cal_strat <- calibrate(dstrat, ~api99, c(6194, 3914069))
strat$w_cal_num <- weights(cal_strat)
df <- degf(dstrat)
put_stat("strat_cal_num_mean", "svymean(~api00, calibrate(dstrat, ~api99, c(6194, 3914069)), deff=TRUE)",
         svymean(~api00, cal_strat, deff = TRUE), df)
put_by("strat_cal_num_by_mean", "svyby(~api00, ~sch.wide, calibrate(dstrat, ~api99, ...), svymean)",
       svyby(~api00, ~sch.wide, cal_strat, svymean, deff = TRUE), df)

# Respondents sampled directly (no clusters) and calibrated.
pop_compimp <- as.data.frame(xtabs(~comp.imp, data = apipop))
scal <- list(
  ps = postStratify(dstrat, ~sch.wide, pop_schwide),
  rake = rake(dstrat, list(~sch.wide, ~comp.imp), list(pop_schwide, pop_compimp),
              control = list(maxit = 200, epsilon = 1e-15)),
  linear = calibrate(dstrat, ~sch.wide + comp.imp,
                     c(6194, 5122, pop_compimp$Freq[pop_compimp$comp.imp == "Yes"]))
)
for (nm in names(scal)) {
  d <- scal[[nm]]
  strat[[paste0("w_", nm)]] <- weights(d)
  tag <- paste0("scal_", nm)
  what <- paste0("[dstrat ", nm, "] ")
  put_stat(paste0(tag, "_mean"), paste0(what, "svymean(~api00+api99, d, deff=TRUE)"),
           svymean(~api00 + api99, d, deff = TRUE), df)
  put_stat(paste0(tag, "_total"), paste0(what, "svytotal(~enroll, d, deff=TRUE)"),
           svytotal(~enroll, d, deff = TRUE), df)
  put_by(paste0(tag, "_by_mean"), paste0(what, "svyby(~api00, ~stype, d, svymean, deff=TRUE)"),
         svyby(~api00, ~stype, d, svymean, deff = TRUE), df)
  put_ratio(paste0(tag, "_ratio"), paste0(what, "svyratio(~api.stu, ~enroll, d, deff=TRUE)"),
            svyratio(~api.stu, ~enroll, d, deff = TRUE), df)
  put_quantile(paste0(tag, "_quantile"), paste0(what, "svyquantile(~api00, d, c(0.25, 0.5))"),
               svyquantile(~api00, d, c(0.25, 0.5)))
  put_glm(paste0(tag, "_glm"), paste0(what, "svyglm(api00 ~ ell + meals, d)"),
          svyglm(api00 ~ ell + meals, design = d))
}

# ---------------------------------------------------------------------------------------------
# Replicate-weight designs

put_rep <- function(prefix, what, r) {
  df <- degf(r)
  put(paste0(prefix, "_degf"), paste0("degf(", what, ")"), df = df,
      scale = r$scale, rscales = r$rscales)
  put_stat(paste0(prefix, "_mean"), paste0("svymean(~api00+api99, ", what, ", deff=TRUE)"),
           svymean(~api00 + api99, r, deff = TRUE), df)
  put_stat(paste0(prefix, "_total"), paste0("svytotal(~enroll, ", what, ", deff=TRUE)"),
           svytotal(~enroll, r, deff = TRUE), df)
  put_by(paste0(prefix, "_by_mean"), paste0("svyby(~api00, ~sch.wide, ", what, ", svymean, deff=TRUE)"),
         svyby(~api00, ~sch.wide, r, svymean, deff = TRUE), df)
  put_ratio(paste0(prefix, "_ratio"), paste0("svyratio(~api.stu, ~enroll, ", what, ")"),
            svyratio(~api.stu, ~enroll, r), df)
  put_stat(paste0(prefix, "_prop"), paste0("svymean(~stype, ", what, ")"),
           svymean(~stype, r, deff = TRUE), df)
  put_quantile(paste0(prefix, "_quantile"), paste0("svyquantile(~api00, ", what, ", c(0.25, 0.5))"),
               svyquantile(~api00, r, c(0.25, 0.5)))
  put_glm(paste0(prefix, "_glm"), paste0("svyglm(api00 ~ ell + meals, ", what, ")"),
          svyglm(api00 ~ ell + meals, design = r))
  put_glm(paste0(prefix, "_logit"), paste0("svyglm(I(sch.wide=='Yes') ~ ell + meals, ", what, ", family=quasibinomial)"),
          svyglm(I(sch.wide == "Yes") ~ ell + meals, design = r, family = quasibinomial))
}
put_rep("rep_jk1", "as.svrepdesign(dclus1, type='JK1')", as.svrepdesign(dclus1, type = "JK1"))
put_rep("rep_jkn", "as.svrepdesign(dstrat, type='JKn')", as.svrepdesign(dstrat, type = "JKn"))
put_rep("rep_jkn_nest", "as.svrepdesign(dnest, type='JKn')", as.svrepdesign(dnest, type = "JKn"))
put_rep("rep_jk1_ps", "postStratify(as.svrepdesign(dclus1, type='JK1'), ~stype, pop_types)",
        postStratify(as.svrepdesign(dclus1, type = "JK1"), ~stype, pop_types))
put_rep("rep_jk1_rake",
        "rake(as.svrepdesign(dclus1, type='JK1'), list(~stype, ~sch.wide), ..., control=list(maxit=200, epsilon=1e-15))",
        rake(as.svrepdesign(dclus1, type = "JK1"), list(~stype, ~sch.wide),
             list(pop_types, pop_schwide), control = list(maxit = 200, epsilon = 1e-15)))

for (mode in c("remove", "adjust", "average")) {
  options(survey.lonely.psu = mode)
  r <- as.svrepdesign(dlonely, type = "JKn")
  df <- degf(r)
  put(paste0("rep_lonely_", mode, "_degf"), paste0("options(survey.lonely.psu='", mode, "'); degf(as.svrepdesign(dlonely, type='JKn'))"),
      df = df, scale = r$scale, rscales = r$rscales)
  put_stat(paste0("rep_lonely_", mode, "_mean"), paste0("options(survey.lonely.psu='", mode, "'); svymean(~api00+api99, as.svrepdesign(dlonely, type='JKn'))"),
           svymean(~api00 + api99, r), df, deff = FALSE)
}
options(survey.lonely.psu = "fail")

set.seed(20260101)
boot <- as.svrepdesign(dstrat, type = "bootstrap", replicates = 50)
put_rep("rep_boot", "set.seed(20260101); as.svrepdesign(dstrat, type='bootstrap', replicates=50)", boot)
boot_factors <- as.matrix(boot$repweights)
colnames(boot_factors) <- sprintf("boot%02d", seq_len(ncol(boot_factors)))
boot_mse <- svrepdesign(data = strat, repweights = boot_factors, weights = ~pw,
                        type = "bootstrap", combined.weights = FALSE, scale = boot$scale,
                        rscales = boot$rscales, mse = TRUE)
put_stat("rep_boot_mse_mean", "svymean(~api00+api99, svrepdesign(..., type='bootstrap', combined.weights=FALSE, mse=TRUE), deff=TRUE)",
         svymean(~api00 + api99, boot_mse, deff = TRUE), degf(boot_mse))
jk1 <- as.svrepdesign(dclus1, type = "JK1")
jk1_combined <- weights(jk1, "analysis")
colnames(jk1_combined) <- sprintf("jk%02d", seq_len(ncol(jk1_combined)))
user <- svrepdesign(data = clus1, repweights = jk1_combined, weights = ~pw, type = "JK1",
                    scale = jk1$scale, combined.weights = TRUE)
put_stat("rep_user_mean", "svymean(~api00+api99, svrepdesign(repweights=weights(jk1,'analysis'), type='JK1', scale=jk1$scale))",
         svymean(~api00 + api99, user, deff = TRUE), degf(user))
put("rep_user_degf", "degf(user)", df = degf(user), scale = user$scale)

# ---------------------------------------------------------------------------------------------
# Write

write_csv <- function(x, name) {
  # Full precision: write.csv keeps only 15 significant digits.
  for (j in seq_along(x)) {
    if (is.double(x[[j]])) x[[j]] <- ifelse(is.na(x[[j]]), NA, sprintf("%.17g", x[[j]]))
  }
  write.csv(x, file.path(out_dir, "data", name), row.names = FALSE, na = "")
}
write_csv(strat, "est_apistrat.csv")
write_csv(clus1, "est_apiclus1.csv")
write_csv(clus2, "est_apiclus2.csv")
write_csv(data.frame(boot_factors), "est_apistrat_bootstrap.csv")
write_csv(data.frame(jk1_combined), "est_apiclus1_jk1_combined.csv")

header <- list(r_version = R.version.string,
               survey_version = as.character(packageVersion("survey")))
lines <- c(
  "{",
  paste0('"_about": {"r": "', header$r_version, '", "survey": "', header$survey_version,
         '", "script": "tests/reference/estimation.R"},'),
  paste0(vapply(seq_along(results), function(i) {
    paste0('"', names(results)[i], '": ', json_value(results[[i]]))
  }, character(1)), collapse = ",\n"),
  "}"
)
writeLines(lines, file.path(out_dir, "estimation_r.json"))
cat("wrote", length(results), "results to", file.path(out_dir, "estimation_r.json"), "\n")
