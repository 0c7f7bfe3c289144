-- The RFM segment grid (seed rfm_segment_grid) must cover every (r_score, f_score) cell of 1..5 x
-- 1..5 exactly once, so that every scored customer gets a segment. Rows returned are missing cells
-- (or a grid of the wrong size).
with

grid as (

    select * from {{ ref('rfm_segment_grid') }}

),

scores as (

    select 1 as score
    union all select 2
    union all select 3
    union all select 4
    union all select 5

),

cells as (

    select
        r_scores.score as r_score,
        f_scores.score as f_score

    from scores as r_scores
    cross join scores as f_scores

)

select
    cells.r_score,
    cells.f_score,
    'missing cell' as problem

from cells
left join grid
    on cells.r_score = grid.r_score
    and cells.f_score = grid.f_score
where grid.segment is null

union all

select
    null as r_score,
    null as f_score,
    'grid does not have 25 rows' as problem

from (select count(*) as cells from grid) as grid_size
where grid_size.cells <> 25
